/*
 * rowtrail_native: precise identity mode's statement trigger as a C function (opt-in, see README.md here).
 *
 * Emits the same transactional logical message as the PL/pgSQL trigger (src/identity/message.ts, format 1):
 *   [1, pid, backend_start|null, session_user, role, application_name, client_addr|null, actor|null, query|null]
 * once per transaction, from a BEFORE ... FOR EACH STATEMENT trigger on each watched table.
 *
 * - Once per transaction: the local transaction id of the last message is kept in a static variable (no GUC
 *   marker, no commit-time GUC walk). A sub-transaction that aborts at or above the one that emitted discards
 *   the message with it, so the marker is cleared and the next watched statement emits again.
 * - backend_start is sent until a message carrying it has committed (a rolled-back one takes it along).
 * - Nothing here raises on any input: a dropped session role gives null, missing settings give null.
 * - LogLogicalMessage has no permission check: every role that may write a watched table emits through the
 *   trigger, and the function cannot be called other than as a trigger.
 */
#include "postgres.h"

#include <sys/socket.h>

#include "access/xact.h"
#include "catalog/pg_type_d.h"
#include "commands/trigger.h"
#include "common/ip.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "libpq/libpq-be.h"
#include "miscadmin.h"
#include "replication/message.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "mb/pg_wchar.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/timestamp.h"

PG_MODULE_MAGIC;

#if PG_VERSION_NUM >= 170000
#define CURRENT_LXID (MyProc->vxid.lxid)
#define EMIT(prefix, data, len) LogLogicalMessage((prefix), (data), (len), true, false)
#else
#define CURRENT_LXID (MyProc->lxid)
#define EMIT(prefix, data, len) LogLogicalMessage((prefix), (data), (len), true)
#endif

/* Longest statement text copied into a message, in characters as left(current_query(), 2048) cuts it. */
#define MAX_QUERY_CHARS 2048

static LocalTransactionId sent_lxid = InvalidLocalTransactionId;
static SubTransactionId sent_subxid = InvalidSubTransactionId;
/* a message stands in the current transaction (emitted, not discarded by a rollback) */
static bool msg_open = false;
/* that message carries backend_start */
static bool start_pending = false;
/* a committed message of this session carried backend_start */
static bool start_known = false;
static bool callbacks_registered = false;

static void
subxact_cb(SubXactEvent event, SubTransactionId mySubid, SubTransactionId parentSubid, void *arg)
{
	/*
	 * Sub-transaction ids grow within a transaction, and siblings end before the next one starts, so an
	 * aborting sub-transaction with an id at or below the emitter's is the emitter or one of its ancestors:
	 * the message goes with it.
	 */
	if (event == SUBXACT_EVENT_ABORT_SUB && msg_open && mySubid <= sent_subxid)
	{
		msg_open = false;
		start_pending = false;
		sent_lxid = InvalidLocalTransactionId;
	}
}

static void
xact_cb(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PREPARE:
			if (msg_open && start_pending)
				start_known = true;
			/* FALLTHROUGH */
		case XACT_EVENT_ABORT:
			msg_open = false;
			start_pending = false;
			sent_lxid = InvalidLocalTransactionId;
			break;
		default:
			break;
	}
}

static void
add_json(StringInfo buf, const char *s)
{
	appendStringInfoChar(buf, ',');
	if (s == NULL)
		appendStringInfoString(buf, "null");
	else
		escape_json(buf, s);
}

PG_FUNCTION_INFO_V1(rowtrail_capture_session);

Datum
rowtrail_capture_session(PG_FUNCTION_ARGS)
{
	StringInfoData buf;
	const char *actor;
	const char *q = debug_query_string;
	char		host[NI_MAXHOST];
	bool		with_start;
	TriggerData *trig;
	Datum		result = PointerGetDatum(NULL);

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "rowtrail_capture_session: not called as a trigger");
	/* setup attaches it FOR EACH STATEMENT; attached per row by hand, it must not skip the row */
	trig = (TriggerData *) fcinfo->context;
	if (TRIGGER_FIRED_FOR_ROW(trig->tg_event))
		result = PointerGetDatum(TRIGGER_FIRED_BY_UPDATE(trig->tg_event) ? trig->tg_newtuple : trig->tg_trigtuple);
	if (msg_open && sent_lxid == CURRENT_LXID)
		return result;
	if (!callbacks_registered)
	{
		RegisterSubXactCallback(subxact_cb, NULL);
		RegisterXactCallback(xact_cb, NULL);
		callbacks_registered = true;
	}

	initStringInfo(&buf);
	appendStringInfo(&buf, "[1,%d", MyProcPid);
	with_start = !start_known;
	if (with_start)
	{
		/* the text json_build_array gives a timestamptz, as the PL/pgSQL trigger sends it */
		appendStringInfoString(&buf, ",\"");
		appendStringInfoString(&buf, JsonEncodeDateTime(NULL, TimestampTzGetDatum(MyStartTimestamp), TIMESTAMPTZOID, NULL));
		appendStringInfoChar(&buf, '"');
	}
	else
		appendStringInfoString(&buf, ",null");
	add_json(&buf, GetUserNameFromId(GetSessionUserId(), true));
	/* as current_setting('role') shows it (show_role): none unless SET ROLE is in effect */
	add_json(&buf, OidIsValid(GetCurrentRoleId()) ? GetConfigOption("role", true, false) : "none");
	add_json(&buf, GetConfigOption("application_name", true, false));
	host[0] = '\0';
	if (MyProcPort != NULL &&
		(MyProcPort->raddr.addr.ss_family == AF_INET || MyProcPort->raddr.addr.ss_family == AF_INET6) &&
		pg_getnameinfo_all(&MyProcPort->raddr.addr, MyProcPort->raddr.salen, host, sizeof(host), NULL, 0, NI_NUMERICHOST | NI_NUMERICSERV) == 0)
	{
		/* as inet_client_addr() gives it: without an IPv6 zone */
		clean_ipv6_addr(MyProcPort->raddr.addr.ss_family, host);
		add_json(&buf, host);
	}
	else
		add_json(&buf, NULL);
	actor = GetConfigOption("rowtrail.actor", true, false);
	add_json(&buf, actor && actor[0] ? actor : NULL);
	if (q != NULL && strstr(q, "/*") != NULL)
	{
		int			len = strlen(q);

		if (len > MAX_QUERY_CHARS)	/* bytes >= characters: shorter texts need no cut */
			len = pg_mbcharcliplen(q, len, MAX_QUERY_CHARS);
		add_json(&buf, pnstrdup(q, len));
	}
	else
		add_json(&buf, NULL);
	appendStringInfoChar(&buf, ']');

	EMIT("rowtrail", buf.data, buf.len);
	pfree(buf.data);

	sent_lxid = CURRENT_LXID;
	sent_subxid = GetCurrentSubTransactionId();
	msg_open = true;
	start_pending = with_start;
	return result;
}
