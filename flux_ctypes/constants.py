"""Constants from libflux-core's public headers, with the headers' names.

They are plain integers so they cost nothing at import and need no library.
Every value is checked against the installed headers by a compiled C file
in tests/test_conformance.py; keep that list in step when adding one here.
"""

# message.h: message types
FLUX_MSGTYPE_REQUEST = 0x01
FLUX_MSGTYPE_RESPONSE = 0x02
FLUX_MSGTYPE_EVENT = 0x04
FLUX_MSGTYPE_CONTROL = 0x08
FLUX_MSGTYPE_ANY = 0x0F
FLUX_MSGTYPE_MASK = 0x0F

# message.h: message flags
FLUX_MSGFLAG_TOPIC = 0x01
FLUX_MSGFLAG_PAYLOAD = 0x02
FLUX_MSGFLAG_NORESPONSE = 0x04
FLUX_MSGFLAG_ROUTE = 0x08
FLUX_MSGFLAG_UPSTREAM = 0x10
FLUX_MSGFLAG_PRIVATE = 0x20
FLUX_MSGFLAG_STREAMING = 0x40
FLUX_MSGFLAG_USER1 = 0x80

# message.h: addressing.  These are uint32_t in C; declaring them as a
# signed int would turn FLUX_NODEID_ANY into -1 and misroute requests.
FLUX_NODEID_ANY = 0xFFFFFFFF
FLUX_NODEID_UPSTREAM = 0xFFFFFFFE
FLUX_MATCHTAG_NONE = 0
FLUX_USERID_UNKNOWN = 0xFFFFFFFF

# message.h: roles
FLUX_ROLE_NONE = 0
FLUX_ROLE_OWNER = 1
FLUX_ROLE_USER = 2
FLUX_ROLE_LOCAL = 4
FLUX_ROLE_ADMIN = 8
FLUX_ROLE_ALL = 0xFFFFFFFF
FLUX_ROLE_PRIVILEGED = FLUX_ROLE_OWNER | FLUX_ROLE_ADMIN

# handle.h: flux_open() flags
FLUX_O_TRACE = 1
FLUX_O_CLONE = 2
FLUX_O_NONBLOCK = 4
FLUX_O_MATCHDEBUG = 8
FLUX_O_TEST_NOSUB = 16
FLUX_O_RPCTRACK = 32
FLUX_O_NOREQUEUE = 64

# handle.h: flux_requeue() flags
FLUX_RQ_HEAD = 1
FLUX_RQ_TAIL = 2

# handle.h: poll events
FLUX_POLLIN = 1
FLUX_POLLOUT = 2
FLUX_POLLERR = 4

# rpc.h
FLUX_RPC_NORESPONSE = 1
FLUX_RPC_STREAMING = 2

# reactor.h
FLUX_REACTOR_NOWAIT = 1
FLUX_REACTOR_ONCE = 2

# event.h
FLUX_EVENT_PRIVATE = 1

# job.h: flux_job_submit() flags
FLUX_JOB_PRE_SIGNED = 1
FLUX_JOB_DEBUG = 2
FLUX_JOB_WAITABLE = 4
FLUX_JOB_NOVALIDATE = 8

# job.h: flux_job_event_watch() flags
FLUX_JOB_EVENT_WATCH_WAITCREATE = 1
FLUX_JOB_EVENT_WATCH_INITIAL_SENTINEL = 2

# job.h: job lookup flags
FLUX_JOB_LOOKUP_JSON_DECODE = 1
FLUX_JOB_LOOKUP_CURRENT = 2

# job.h: urgency and priority
FLUX_JOB_URGENCY_MIN = 0
FLUX_JOB_URGENCY_HOLD = 0
FLUX_JOB_URGENCY_DEFAULT = 16
FLUX_JOB_URGENCY_MAX = 31
FLUX_JOB_URGENCY_EXPEDITE = 31
FLUX_JOB_PRIORITY_MIN = 0
FLUX_JOB_PRIORITY_MAX = 4294967295

# job.h: any job (a uint64_t of all ones)
FLUX_JOBID_ANY = 0xFFFFFFFFFFFFFFFF

# job.h: job states (RFC 21) and the masks made of them
FLUX_JOB_STATE_NEW = 1
FLUX_JOB_STATE_DEPEND = 2
FLUX_JOB_STATE_PRIORITY = 4
FLUX_JOB_STATE_SCHED = 8
FLUX_JOB_STATE_RUN = 16
FLUX_JOB_STATE_CLEANUP = 32
FLUX_JOB_STATE_INACTIVE = 64
FLUX_JOB_NR_STATES = 7
FLUX_JOB_STATE_PENDING = 14
FLUX_JOB_STATE_RUNNING = 48
FLUX_JOB_STATE_ACTIVE = 62

# job.h: job results
FLUX_JOB_RESULT_COMPLETED = 1
FLUX_JOB_RESULT_FAILED = 2
FLUX_JOB_RESULT_CANCELED = 4
FLUX_JOB_RESULT_TIMEOUT = 8

# kvs.h: flux_kvs_lookup() flags (enum kvs_op)
FLUX_KVS_READDIR = 1
FLUX_KVS_READLINK = 2
FLUX_KVS_WATCH = 4
FLUX_KVS_WAITCREATE = 8
FLUX_KVS_TREEOBJ = 16
FLUX_KVS_APPEND = 32
FLUX_KVS_WATCH_FULL = 64
FLUX_KVS_WATCH_UNIQ = 128
FLUX_KVS_WATCH_APPEND = 256
FLUX_KVS_STREAM = 512
FLUX_KVS_WATCH_INITIAL_SENTINEL = 1024

# kvs_commit.h: flux_kvs_commit() flags (enum kvs_commit_flags)
FLUX_KVS_NO_MERGE = 1
FLUX_KVS_TXN_COMPACT = 2
FLUX_KVS_SYNC = 4

# Names only, so tests and tools can walk them without guessing.
__all__ = [name for name in list(globals()) if name.startswith("FLUX_")]
