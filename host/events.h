/* The host side's log events: stable journald MESSAGE_IDs (journalctl
 * MESSAGE_ID=...), one per event type. Random 128-bit values chosen
 * once; never change one, add new ones. */
#ifndef EPH_HOST_EVENTS_H
#define EPH_HOST_EVENTS_H

/* ephemeral-principals: a certificate sshd asked about was accepted
 * (principals printed) / refused (nothing printed). */
#define HOST_MSGID_PRINCIPALS_ACCEPTED "197a2d5d5f7081c3ff65830b0b02db1b"
#define HOST_MSGID_PRINCIPALS_REFUSED "e3058484723d73fbc255b88f734948f5"

/* pam_ephemeral: a session was refused (the reason in EPH_REASON), a
 * session started, a session ended (EPH_DURATION seconds). */
#define HOST_MSGID_PAM_REFUSED "7a5f0aeaed04cc04fea94d59cacc476c"
#define HOST_MSGID_PAM_SESSION_START "56db258effae58e5257d4ec8899c7d5f"
#define HOST_MSGID_PAM_SESSION_END "3cbb80c8a68e6e71af02f56aed580e35"
/* The session watchdog (ephemeral-watchdog, logging as pam_ephemeral)
 * ended a live session: EPH_REASON expired, revoked or krl_unreadable. */
#define HOST_MSGID_PAM_SESSION_TERMINATED "b3d0c7e4a1f24b6e9c85d2a7f03e61c9"

#endif
