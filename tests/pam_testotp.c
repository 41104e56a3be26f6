/*
 * A PAM module for the tests only (never installed): a one-time code
 * asked through the application's conversation, so that the relay of
 * POST /v1/login meets a stack that wants more than a password.
 *
 *   auth required pam_testotp.so code=123456 [info] [pin=NNNN]
 *
 * It asks "One-time code: " (PAM_PROMPT_ECHO_ON) and succeeds when the
 * answer is the code. info first shows a PAM_TEXT_INFO message (unless
 * PAM_SILENT); pin=NNNN asks "PIN: " (echo off) and the code together, in
 * one conversation call, and wants both.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <security/pam_appl.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#define TESTOTP_INFO "Enter the one-time code from your token."

static void
answer_free(char *a)
{
	if (a != NULL) {
		explicit_bzero(a, strlen(a));
		free(a);
	}
}

/* PIN and code in one conversation call; PAM_SUCCESS when both match. */
static int
ask_pin_and_code(pam_handle_t *ph, const char *pin, const char *code)
{
	const struct pam_conv *conv = NULL;
	struct pam_message m[2] = {
	    {PAM_PROMPT_ECHO_OFF, "PIN: "}, {PAM_PROMPT_ECHO_ON, "One-time code: "}};
	const struct pam_message *mp[2] = {&m[0], &m[1]};
	struct pam_response *r = NULL;
	int rc, ok;

	if (pam_get_item(ph, PAM_CONV, (const void **)&conv) != PAM_SUCCESS || conv == NULL ||
	    conv->conv == NULL)
		return PAM_CONV_ERR;
	if ((rc = conv->conv(2, mp, &r, conv->appdata_ptr)) != PAM_SUCCESS || r == NULL)
		return rc != PAM_SUCCESS ? rc : PAM_CONV_ERR;
	ok = r[0].resp != NULL && r[1].resp != NULL && strcmp(r[0].resp, pin) == 0 &&
	    strcmp(r[1].resp, code) == 0;
	answer_free(r[0].resp);
	answer_free(r[1].resp);
	free(r);
	return ok ? PAM_SUCCESS : PAM_AUTH_ERR;
}

PAM_EXTERN int
pam_sm_authenticate(pam_handle_t *ph, int flags, int argc, const char **argv)
{
	const char *code = NULL, *pin = NULL;
	char *answer = NULL;
	int i, info = 0, rc, ok;

	for (i = 0; i < argc; i++) {
		if (strncmp(argv[i], "code=", 5) == 0)
			code = argv[i] + 5;
		else if (strncmp(argv[i], "pin=", 4) == 0)
			pin = argv[i] + 4;
		else if (strcmp(argv[i], "info") == 0)
			info = 1;
		else
			return PAM_SERVICE_ERR;
	}
	if (code == NULL || code[0] == '\0')
		return PAM_SERVICE_ERR;
	if (info && !((unsigned)flags & PAM_SILENT) &&
	    (rc = pam_info(ph, "%s", TESTOTP_INFO)) != PAM_SUCCESS)
		return rc;
	if (pin != NULL)
		return ask_pin_and_code(ph, pin, code);
	if ((rc = pam_prompt(ph, PAM_PROMPT_ECHO_ON, &answer, "One-time code: ")) != PAM_SUCCESS)
		return rc;
	ok = answer != NULL && strcmp(answer, code) == 0;
	answer_free(answer);
	return ok ? PAM_SUCCESS : PAM_AUTH_ERR;
}

PAM_EXTERN int
pam_sm_setcred(pam_handle_t *ph, int flags, int argc, const char **argv)
{
	(void)ph;
	(void)flags;
	(void)argc;
	(void)argv;
	return PAM_SUCCESS;
}
