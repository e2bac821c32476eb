/* trace_kinds.h — every trace event kind, engine and models alike.
 *
 * One list so the trace hash, the text dump, the HDF5 enum type and the
 * checkers all agree on names.  Numbers are part of the trace format:
 * append, never renumber.  Engine kinds live below 100, each model gets a
 * block of 100.  The meaning of a, b and c is given per kind.
 */
#ifndef AU_TRACE_KINDS_H
#define AU_TRACE_KINDS_H

#define AU_TRACE_KINDS(X)                                                              \
	/* engine: node lifecycle and faults */                                        \
	X(NODE_BOOT, 1)       /* node started its services; a=epoch */                \
	X(NODE_CRASH, 2)      /* a=epoch, b=fault index */                            \
	X(NODE_RESTART, 3)    /* a=new epoch, b=fault index */                        \
	X(NODE_PAUSE, 4)      /* b=fault index */                                     \
	X(NODE_RESUME, 5)     /* a=events that waited */                              \
	X(CLOCK_SKEW, 6)      /* a=jump ns, b=drift ppm */                            \
	X(PARTITION_START, 7) /* a=fault index, b=groups, c=oneway */                \
	X(PARTITION_END, 8)   /* a=fault index */                                     \
	X(HEAL, 9)            /* a=partitions removed, b=link faults removed */       \
	X(LINK_FAULT_START, 10) /* a=fault index, b=action, c=link or target */      \
	X(LINK_FAULT_END, 11) /* a=fault index, b=messages released */                \
	X(DISK_FAULT_START, 12) /* a=fault index, b=kind */                           \
	X(DISK_FAULT_END, 13) /* a=fault index */                                     \
	X(FAULT_SKIPPED, 14)  /* a=fault index, b=action: no eligible target */      \
	X(DISK_CRASH, 15)     /* a=kept, b=torn, c=lost unsynced writes */            \
	X(RUN_END, 16)        /* a=events processed */                                \
	X(MODEL_BAD_MESSAGE, 17) /* a=from, b=len: malformed or corrupted, dropped */ \
	X(SEND_REJECTED, 18)  /* a=to, b=len: invalid destination or size */         \
	X(ADMIN, 19)          /* a=fault index, b=target, c=result (0 ok): on leader */ \
	X(STORAGE_ERROR, 20)  /* a=op (0 write, 1 truncate, 2 sync), b=AU_E* code, c=file index: the disk failed it */ \
	X(MODEL_STORAGE, 21)  /* a=op (0 write, 1 truncate, 2 sync), b=AU_E* code, c=what the model does (enum au_storage_response, env.h) */ \
	/* ping model (100..199) */                                                    \
	X(PING_BOOT, 100)     /* a=boot count read from disk */                       \
	X(PING_SENT, 101)     /* a=peer, b=seq */                                     \
	X(PING_RTT, 102)      /* a=peer, b=seq, c=rtt ns (first pong only) */        \
	X(PING_TIMEOUT, 103)  /* a=peer, b=seq */                                     \
	X(PING_DUP_PONG, 104) /* a=peer, b=seq: a pong for an answered ping */        \
	X(PING_BOOT_SYNCED, 105) /* a=boot count now durable */                  \
	/* raft (200..299); chain = hash of the log prefix ending at that entry */  \
	X(RAFT_ROLE, 200)     /* a=term, b=role (0 follower..3 leader), c=leader */  \
	X(RAFT_VOTE, 201)     /* a=term, b=candidate, c=granted | prevote << 1 */     \
	X(RAFT_APPEND, 202)   /* a=index, b=term, c=chain: entry now in the log */   \
	X(RAFT_TRUNCATE, 203) /* a=first index removed, b=term */                    \
	X(RAFT_COMMIT, 204)   /* a=commit index, b=term of that entry, c=chain */    \
	X(RAFT_APPLY, 205)    /* a=index, b=term, c=chain */                          \
	X(RAFT_SNAPSHOT, 206) /* a=index, b=term, c=chain: log compacted to here */   \
	X(RAFT_INSTALL, 207)  /* a=index, b=term, c=chain: snapshot installed */      \
	X(RAFT_RECOVER, 208)  /* a=last index, b=snapshot index, c=chain at last */   \
	X(RAFT_CONFIG, 209)   /* a=index, b=voters bitmask: configuration in effect */ \
	X(RAFT_TRANSFER, 210) /* a=term, b=target */                                   \
	X(RAFT_BAD_DISK, 211) /* a=1 meta, 2 snapshot, 3 log (unreadable record), 4 log (stale suffix after a lost truncation), 5 a read failed: recovery refused (b = attempt), retried later; b=offset, c=segment */ \
	X(RAFT_DISK_FAILED, 212) /* a=op (0 write, 1 truncate, 2 sync), b=AU_E* code, c=failures so far: stopped serving */ \
	X(RAFT_DISK_OK, 213)  /* a=log index durable, b=meta version, c=attempts: persisting again, serving */ \
	X(RAFT_DIGEST, 214)   /* a=applied index, b=state digest, c=per-machine fingerprints (byte i: low byte of slot i's digest; 0 sessions) */ \
	/* swim (300..399); view changes are /membership rows, not events */         \
	X(SWIM_BOOT, 300)     /* a=incarnation, b=0 whole cluster known | 1 joining, c=members known */ \
	X(SWIM_JOINED, 301)   /* a=seed, b=entries in its reply, c=members known now */ \
	X(SWIM_PROBE_FAIL, 302) /* a=member, b=its incarnation, c=1 if ping-reqs were sent */ \
	X(SWIM_REFUTE, 303)   /* a=new incarnation, b=accused one, c=kind*1e6+accuser (1 suspect, 2 dead, 3 alive) */ \
	X(SWIM_LEAVE, 304)    /* a=incarnation: this node leaves the cluster */      \
	X(SWIM_SUSPECT_EXPIRED, 305) /* a=member, b=incarnation, c=confirmations: declared dead */ \
	X(SWIM_QUIET, 306)    /* a=incarnation: the leaving node has gone quiet */ \
	/* execution layer (400..499): the task queue and locks are traced by   */ \
	/* every replica as it applies; an ENTRY record opens each command      */ \
	X(TASKQ_ENTRY, 400)   /* a=log index, b=effect chain before it, c=ops */       \
	X(TASKQ_ENQUEUE, 401) /* a=task, b=kind << 32 | topic, c=rounds */             \
	X(TASKQ_GRANT, 402)   /* a=task, b=token, c=node */                            \
	X(TASKQ_ACK, 403)     /* a=task, b=token, c=result digest: accepted */        \
	X(TASKQ_ACK_STALE, 404) /* a=task, b=token, c=node: rejected */               \
	X(TASKQ_NACK, 405)    /* a=task, b=token, c=requeue */                         \
	X(TASKQ_RELEASE, 406) /* a=task, b=token */                                    \
	X(TASKQ_EXPIRE, 407)  /* a=task, b=token, c=reason (0 timeout, 1 dead, 2 reboot) */ \
	X(TASKQ_DEAD_LETTER, 408) /* a=task, b=retries, c=reason (0 attempts, 1 malformed, 2 cancelled, 3 job failed) */ \
	X(TASKQ_CHECKPOINT, 409) /* a=task, b=token, c=round: accepted */              \
	X(TASKQ_NODE, 410)    /* a=node, b=op (0 alive, 1 dead, 2 drain, 3 resume) */  \
	X(TASKQ_RENEW_LOST, 411) /* a=task, b=token, c=node: renew of a gone lease */ \
	X(TASKQ_RENEW, 412)   /* a=task, b=token, c=node: the current lease renewed */ \
	X(TASKQ_REVOKE, 413)  /* a=task, b=token, c=1 renewal, 2 ack (refused), 3 checkpoint: lease of a cancelled/failed job's task ended */ \
	X(TASKQ_JOB, 414)     /* a=job, b=new state (0 queued 1 running 2 done 3 failed 4 cancelled), c=failed: dead reason << 8 | last error */ \
	X(TASKQ_JOB_TASK, 415) /* a=task, b=job: an enqueued task belongs to a job */ \
	X(TASKQ_CANCEL, 416)  /* a=job, b=1 accepted, 0 refused (no such job), 2 refused (done), 3 already cancelled */ \
	X(TASKQ_REQUEUE, 417) /* a=task, b=job, c=1 requeued, 2 requeued reopening its failed job, 0 refused (not dead), 3 refused (job cancelled) */ \
	X(LOCK_ENTRY, 420)    /* a=log index, b=effect chain before it, c=ops */       \
	X(LOCK_GRANT, 421)    /* a=key, b=token, c=owner */                            \
	X(LOCK_RELEASE, 422)  /* a=key, b=token, c=reason (0 unlock, 1 expired) */     \
	X(LOCK_WRITE, 423)    /* a=key, b=token, c=accepted */                         \
	X(LOCK_RENEW, 424)    /* a=key, b=token, c=owner node: the holder asked again */ \
	/* orchestrator: traced by the node itself */                                  \
	X(ORCH_BOOT, 440)     /* a=incarnation */                                      \
	X(ORCH_START, 441)    /* a=task, b=token, c=first round (resumed from) */      \
	X(ORCH_ROUND, 442)    /* a=task, b=token, c=rounds done: checkpoint synced */  \
	X(ORCH_FINISH, 443)   /* a=task, b=token, c=result digest: ack sent */         \
	X(ORCH_ABANDON, 444)  /* a=task, b=token, c=why (0 lease lost, 1 local expiry, 2 failed, 3 storage failed: released) */ \
	X(ORCH_RESUME, 445)   /* a=task, b=round, c=source (1 disk, 2 log) */          \
	X(ORCH_MEMBER, 446)   /* a=member, b=SWIM state: seen by the leader */         \
	X(ORCH_LEAD, 447)     /* a=raft term: this node's front end took over */       \
	X(ORCH_LOCK_HELD, 448) /* a=key, b=token: a lock client got a lock */          \
	X(ORCH_LOCK_WRITE, 449) /* a=key, b=token: a lock client sends a write */ \
	X(ORCH_EXPIRE, 450)   /* a=task, b=token, c=deadline judged (own clock): the leader proposes a timeout */ \
	X(ORCH_LOCK_EXPIRE, 451) /* a=key, b=token, c=deadline judged (own clock): the leader proposes a lock's expiry */ \
	/* ONE results repository (500..519); digest = first 8 bytes, big-endian */   \
	X(ONE_STORE, 500)     /* a=job, b=log index, c=digest: the job's record stored */ \
	X(ONE_REJECT, 501)    /* a=job, b=log index, c=digest: a second put, rejected */ \
	X(ONE_BAD_SNAPSHOT, 502) /* a=bytes: an undecodable snapshot, state emptied */ \
	X(BLOB_STORE, 503)    /* a=digest, b=bytes: a holder wrote a result's bytes */ \
	X(BLOB_FETCH_START, 504) /* a=job, b=digest: a fetch of the job's result begins */ \
	X(BLOB_FETCH, 505)    /* a=job, b=0 ok, 1 digest mismatch, 2 gave up; c=mask of nodes that served */ \
	/* RQML (520..559); where = round << 16 | shard.  Replicas trace what       */ \
	/* applying does; workers trace what they compute.                          */ \
	X(RQML_JOB, 520)      /* a=job, b=kind | depth << 8, c=parent: job started */ \
	X(RQML_DATA, 521)     /* a=job, b=where, c=token: a shard output is in the log */ \
	X(RQML_SHARD_USED, 522) /* a=job, b=where, c=token: aggregated into the round */ \
	X(RQML_ROUND, 523)    /* a=job, b=rounds done, c=residual (IEEE bits) */     \
	X(RQML_DONE, 524)     /* a=job, b=rounds | verdict << 32, c=digest (8 bytes, BE) */ \
	X(RQML_CLOSE_REJECT, 525) /* a=job, b=round, c=shard whose output is missing */ \
	X(RQML_STALE, 526)    /* a=job, b=where, c=token: output for no open round, dropped */ \
	X(RQML_RESTORE, 527)  /* a=job, b=rounds done, c=verdict: from a snapshot */  \
	X(RQML_COMPUTE, 528)  /* a=job, b=where, c=token: this worker computed a shard */ \
	X(RQML_NOT_READY, 529) /* a=job, b=where, c=rounds this replica has (-1 none); c >= round: obsolete task, finished empty */ \
	X(RQML_RETRY, 530)    /* a=job, b=where, c=new attempt: supervisor replaced a task */ \
	X(RQML_BAD_JOB, 531)  /* a=job, b=kind: a START whose spec does not build */  \
	X(RQML_BAD_SNAPSHOT, 532) /* a=bytes: undecodable snapshot, jobs dropped */  \
	X(RQML_FAIL, 533)     /* a=job, b=where, c=attempts << 8 | last error: the shard's attempts ran out, the job failed */ \
	X(RQML_CANCEL, 534)   /* a=job, b=rounds done: the job was cancelled */

enum au_trace_kind {
#define AU_X(name, num) AU_TR_##name = num,
	AU_TRACE_KINDS(AU_X)
#undef AU_X
};

#endif
