package ratelimit

import (
	"context"
	"errors"
	"time"
)

// Decision is what a Policy decided about one attempt, as given to Config.Observe.
type Decision string

const (
	// DecisionAllowed: every limit let the attempt through, possibly after a tarpit delay
	// (Event.Delay).
	DecisionAllowed Decision = "allowed"
	// DecisionRefused: a volume limit or the failure budget refused the attempt.
	DecisionRefused Decision = "refused"
	// DecisionTarpitFull: the attempt was to be delayed, but the process's tarpit slots
	// (Config.MaxTarpitted, MaxTarpittedPerAddr) were taken, so it was refused.
	DecisionTarpitFull Decision = "tarpit_full"
	// DecisionUnchecked: the attempt went through while the Limiter was failing (or paused
	// after a failure), so some limits were not applied.
	DecisionUnchecked Decision = "unchecked"
	// DecisionCanceled: the client went away while the attempt was held in the tarpit.
	DecisionCanceled Decision = "canceled"
)

// Event describes one call of Policy.Begin or Policy.BeginAccount for Config.Observe. It
// names no client address and no account.
type Event struct {
	// Action is the attempt's action (ActionLogin for BeginAccount).
	Action Action
	// Decision is the verdict.
	Decision Decision
	// Delay is how long the tarpit held the attempt (or, for DecisionTarpitFull, would have).
	Delay time.Duration
}

// observe reports the outcome of a Begin or BeginAccount call to Config.Observe.
func (p *Policy) observe(action Action, a *Attempt, err error) {
	if p.cfg.Observe == nil {
		return
	}
	ev := Event{Action: action, Decision: DecisionAllowed}
	var le *LimitError
	switch {
	case errors.As(err, &le) && le.tarpit:
		ev.Decision, ev.Delay = DecisionTarpitFull, le.RetryAfter
	case le != nil:
		ev.Decision = DecisionRefused
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		ev.Decision = DecisionCanceled
	case err != nil:
		// An unknown action: a programming error, not a decision.
		return
	default:
		ev.Delay = a.Delay
		if p.cfg.Now().UnixNano() < p.downUntil.Load() {
			ev.Decision = DecisionUnchecked
		}
	}
	p.cfg.Observe(ev)
}
