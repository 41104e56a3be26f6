/* The host side's log events: stable journald MESSAGE_IDs (journalctl
 * MESSAGE_ID=...), one per event type. Random 128-bit values chosen
 * once; never change one, add new ones. */
#ifndef EPH_HOST_EVENTS_H
#define EPH_HOST_EVENTS_H

/* ephemeral-principals: a certificate sshd asked about was accepted
 * (principals printed) / refused (nothing printed). */
#define HOST_MSGID_PRINCIPALS_ACCEPTED "197a2d5d5f7081c3ff65830b0b02db1b"
#define HOST_MSGID_PRINCIPALS_REFUSED "e3058484723d73fbc255b88f734948f5"

#endif
