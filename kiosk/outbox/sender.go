package outbox

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// dbRetryDelay spaces retries when the database itself fails under the sender
// (disk trouble): the queue is intact on disk, there is just nothing to do yet.
const dbRetryDelay = time.Second

// checkpointEvery bounds how long the WAL may hold frames of purged filings
// while a backlog drains. A TRUNCATE checkpoint costs about as much as the
// purge itself (a copy and an fsync), so a backlog is checkpointed once per
// interval and whenever the queue empties, which with a citizen's pace of
// filings means after every delivery.
const checkpointEvery = time.Second

// checkpointRetry is how soon an idle queue retries a checkpoint a reader
// got in the way of.
const checkpointRetry = 250 * time.Millisecond

// run is the sender: one goroutine, so deliveries are strictly in queue order and
// at most one is in flight. It forwards the oldest pending row; while that row
// waits for its backoff or for the breaker, rows behind it wait too. Dead letters
// are not pending and so never block it.
func (o *Outbox) run() {
	defer close(o.senderDone)
	ctx := o.fwdCtx
	for {
		select {
		case <-o.stop:
			return
		default:
		}
		h, ok, err := o.st.head(ctx)
		o.mu.Lock()
		o.dbErr = err
		o.mu.Unlock()
		if err != nil {
			o.opt.Log.Error("outbox sender cannot read the queue", "err", err)
			o.sleep(dbRetryDelay)
			continue
		}
		if !ok {
			o.checkpoint(ctx)
			if o.purgedSinceCheckpoint {
				// A reader (the stats of kioskctl outbox, /metrics) held the
				// WAL: try again soon rather than keep purged frames in it
				// until the next filing arrives.
				o.sleep(checkpointRetry)
			} else {
				o.sleep(0) // until a row is enqueued or retried
			}
			continue
		}
		now := time.Now()
		o.mu.Lock()
		ready := o.brk.readyAt(now)
		o.mu.Unlock()
		// A next_at further out than the cap can only come from a clock that
		// stepped back since it was written; it is not honoured.
		if h.nextAt.After(ready) && h.nextAt.Sub(now) <= o.opt.BackoffCap {
			ready = h.nextAt
		}
		if d := ready.Sub(now); d > 0 {
			// A wake-up re-reads the head: a retried dead letter may now be first.
			o.sleep(d)
			continue
		}
		o.deliver(ctx, h)
	}
}

// sleep waits d (forever when 0) or until a new row arrives or Stop is called.
func (o *Outbox) sleep(d time.Duration) {
	var timer <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-timer:
	case <-o.wake:
	case <-o.stop:
	}
}

func (o *Outbox) deliver(ctx context.Context, h head) {
	log := o.opt.Log.With("outbox_id", h.id, "idempotency_key", h.key)
	attempt := h.attempts + 1
	if err := o.st.countAttempt(ctx, h.id, attempt); err != nil {
		log.Error("outbox sender cannot record the attempt", "err", err)
		o.sleep(dbRetryDelay)
		return
	}
	f, err := o.st.load(ctx, h.id)
	if errors.Is(err, errSealed) {
		// Tampered, swapped or truncated at rest: no retry can fix it, and the key
		// was checked at Start. Kept for an operator, like any dead letter.
		o.deadLetter(ctx, log, h.id, "permanent: stored data failed authentication")
		return
	}
	if err != nil {
		log.Error("outbox sender cannot read the filing", "err", err)
		o.sleep(dbRetryDelay)
		return
	}

	d := Delivery{OutboxID: h.id, IdempotencyKey: h.key, Attempt: attempt, Filing: f}
	o.mu.Lock()
	o.inFlight = true
	o.mu.Unlock()
	fctx, cancel := context.WithTimeout(ctx, o.opt.ForwardTimeout)
	start := time.Now()
	err = o.opt.Forwarder.Forward(fctx, d)
	cancel()
	wipe(&d.Filing)
	o.mu.Lock()
	o.inFlight = false
	o.mu.Unlock()

	if err == nil {
		o.m.forwarded.WithLabelValues("success").Inc()
		o.mu.Lock()
		o.brk.success()
		o.mu.Unlock()
		// The backend has it: purge. Should the purge fail, the row is sent again
		// with the same key and the backend's upsert absorbs it.
		if err := o.st.purge(ctx, h.id); err != nil {
			log.Error("delivered filing not purged; it will be re-sent with the same key", "err", err)
			o.sleep(dbRetryDelay)
			return
		}
		o.purgedSinceCheckpoint = true
		if time.Since(o.lastCheckpoint) >= checkpointEvery {
			o.checkpoint(ctx)
		}
		log.Info("filing delivered and purged", "attempt", attempt, "ms", time.Since(start).Milliseconds(),
			"queued_s", int(time.Since(h.created).Seconds()))
		return
	}

	reason := reasonOf(err)
	now := time.Now()
	o.mu.Lock()
	o.lastError, o.lastErrorAt = reason, now
	o.mu.Unlock()
	if IsPermanent(err) {
		o.m.forwarded.WithLabelValues("permanent").Inc()
		// The backend answered, so it is up; the filing is what is wrong.
		o.mu.Lock()
		o.brk.success()
		o.mu.Unlock()
		o.deadLetter(ctx, log, h.id, reason)
		return
	}
	o.m.forwarded.WithLabelValues("retryable").Inc()
	o.mu.Lock()
	opened := o.brk.failure(now)
	o.mu.Unlock()
	if opened {
		log.Warn("circuit breaker open: backend unreachable", "reason", reason, "cooldown_s", o.opt.BreakerCooldown.Seconds())
	}
	if attempt >= o.opt.MaxAttempts {
		o.deadLetter(ctx, log, h.id, reason+" (attempts exhausted)")
		return
	}
	wait := backoff(attempt, o.opt.BackoffBase, o.opt.BackoffCap, o.randN)
	if err := o.st.reschedule(ctx, h.id, now.Add(wait), reason); err != nil {
		log.Error("outbox sender cannot reschedule", "err", err)
		o.sleep(dbRetryDelay)
		return
	}
	log.Warn("delivery failed, will retry", "attempt", attempt, "reason", reason, "retry_in_ms", wait.Milliseconds())
}

func (o *Outbox) deadLetter(ctx context.Context, log *slog.Logger, id int64, reason string) {
	o.mu.Lock()
	o.lastError, o.lastErrorAt = reason, time.Now()
	o.mu.Unlock()
	if err := o.st.deadLetter(ctx, id, time.Now(), reason); err != nil {
		log.Error("outbox sender cannot dead-letter", "err", err)
		o.sleep(dbRetryDelay)
		return
	}
	o.refreshDead(ctx)
	log.Warn("filing dead-lettered: needs an operator (kioskctl outbox)", "reason", reason)
}

// runCheckpointer copies each enqueued filing from the WAL into the database
// off Enqueue's path (see store), which keeps the WAL small while filings are
// queued and not delivered, as in a backend outage.
func (o *Outbox) runCheckpointer() {
	defer close(o.ckptDone)
	for {
		select {
		case <-o.stop:
			return
		case <-o.walGrew:
		}
		if err := o.st.checkpointPassive(o.fwdCtx); err != nil {
			o.opt.Log.Warn("outbox WAL checkpoint failed; retried after the next filing", "err", err)
		}
	}
}

// checkpoint empties the WAL if a filing was purged since the last time.
func (o *Outbox) checkpoint(ctx context.Context) {
	if !o.purgedSinceCheckpoint {
		return
	}
	o.lastCheckpoint = time.Now()
	if err := o.st.checkpoint(ctx); err != nil {
		o.opt.Log.Warn("outbox WAL not truncated after a purge; retried", "err", err)
		return
	}
	o.purgedSinceCheckpoint = false
}

// wipe overwrites the plaintext the forwarder was given; the bytes came from the
// decryption and are referenced by nothing else.
func wipe(f *Filing) {
	clear(f.Body)
	for i := range f.Attachments {
		clear(f.Attachments[i].Data)
	}
}
