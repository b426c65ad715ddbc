package prepaid_test

import (
	"context"
	"testing"
	"time"

	"github.com/inbound-gateway/inbound/gateway"
	"github.com/inbound-gateway/inbound/internal/money"
	"github.com/inbound-gateway/inbound/internal/testenv"
	"github.com/inbound-gateway/inbound/prepaid"
)

// slowNetwork holds a sale until release is closed, signalling entered
// first: a live request with a slow network call.
type slowNetwork struct {
	prepaid.Network
	entered chan struct{}
	release chan struct{}
}

func (n slowNetwork) Sale(ctx context.Context, cardID, ref string, amount money.Amount, apply gateway.Apply) (gateway.Call, error) {
	close(n.entered)
	<-n.release
	return n.Network.Sale(ctx, cardID, ref, amount, apply)
}

// TestRecoverGraceFollowsTheLease: Recover never takes a load whose
// request is alive, however long its network call lasts (the request
// renews the load's lease), and settles the load of a request that died
// (approved at the network, unrecorded: credited) as soon as its lease is
// Grace old, not minutes later. RecoveryLag, the job's lag metric, shows
// the due load until Recover settles it.
func TestRecoverGraceFollowsTheLease(t *testing.T) {
	const grace = 300 * time.Millisecond
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		e := newEnv(t, b, envOptions{})
		ctx := context.Background()
		v := e.visitor(t)
		c := e.card(t, v, freshPAN())

		// A live request: its network call takes "a minute".
		slow := slowNetwork{Network: e.client, entered: make(chan struct{}), release: make(chan struct{})}
		d := e.deps
		d.Network, d.Grace = slow, grace
		svc := e.service(t, d)
		q := e.quote(t, v, c, "100.00", "CNY")
		done := make(chan error, 1)
		go func() {
			_, err := svc.Load(ctx, prepaid.LoadInput{PartnerID: e.partner, VisitorID: v.ID, CardID: c.ID, QuoteID: q.ID()})
			done <- err
		}()
		<-slow.entered
		e.clock.Add(time.Minute)
		time.Sleep(2 * grace) // the request renews its lease meanwhile
		if n, err := svc.Recover(ctx, e.clock.Now()); err != nil || n != 0 {
			t.Fatalf("recover took a live request's load: %d %v", n, err)
		}
		close(slow.release)
		if err := <-done; err != nil {
			t.Fatalf("live load: %v", err)
		}

		// A request that dies after the network approved, before the answer
		// is recorded.
		d.Network = crashingNetwork{Network: e.client, mode: "after_answer"}
		crashing := e.service(t, d)
		q = e.quote(t, v, c, "200.00", "CNY")
		func() {
			defer func() {
				if r := recover(); r != errKilled {
					t.Fatalf("no crash: %v", r)
				}
			}()
			_, _ = crashing.Load(ctx, prepaid.LoadInput{PartnerID: e.partner, VisitorID: v.ID, CardID: c.ID, QuoteID: q.ID()})
		}()
		d.Network = e.client
		restarted := e.service(t, d)
		if n, err := restarted.Recover(ctx, e.clock.Now().Add(grace/2)); err != nil || n != 0 {
			t.Fatalf("recover within the grace: %d %v", n, err)
		}
		now := e.clock.Now().Add(grace + 5*time.Second)
		if lag, err := restarted.RecoveryLag(ctx, now); err != nil || lag < 4*time.Second || lag > 6*time.Second {
			t.Fatalf("recovery lag %s %v, want about 5s", lag, err)
		}
		if n, err := restarted.Recover(ctx, now); err != nil || n != 1 {
			t.Fatalf("recover after the grace: %d %v", n, err)
		}
		if lag, err := restarted.RecoveryLag(ctx, now); err != nil || lag != 0 {
			t.Fatalf("recovery lag after recover %s %v", lag, err)
		}
		loads := e.loadsOf(t, v)
		if len(loads) != 2 || loads[0].Status != prepaid.LoadSucceeded || loads[1].Status != prepaid.LoadSucceeded {
			t.Fatalf("loads %+v", loads)
		}
		want := loads[0].Credited.Minor() + loads[1].Credited.Minor()
		if bal := e.balance(t, v); bal.Minor() != want || want == 0 {
			t.Errorf("balance %s, want the two credits (%d fen)", bal, want)
		}
		e.check(t)
	})
}

// TestRepairLeavesUnrecordedSalesToTheirOwner: a sale approved at the
// network but left in intent is not reversed by the gateway's Repair
// within OwnerGrace (its load's recovery asks the network and credits
// it), and RepairLag counts it only from then.
func TestRepairLeavesUnrecordedSalesToTheirOwner(t *testing.T) {
	testenv.Each(t, func(t *testing.T, b testenv.Backend) {
		e := newEnv(t, b, envOptions{network: func(n prepaid.Network) prepaid.Network {
			return crashingNetwork{Network: n, mode: "after_answer"}
		}})
		ctx := context.Background()
		v := e.visitor(t)
		c := e.card(t, v, freshPAN())
		q := e.quote(t, v, c, "100.00", "CNY")
		func() {
			defer func() {
				if r := recover(); r != errKilled {
					t.Fatalf("no crash: %v", r)
				}
			}()
			_, _ = e.svc.Load(ctx, prepaid.LoadInput{PartnerID: e.partner, VisitorID: v.ID, CardID: c.ID, QuoteID: q.ID()})
		}()
		now := e.clock.Now().Add(5 * time.Minute) // past RepairGrace, within OwnerGrace
		if n, err := e.client.Repair(ctx, now); err != nil || n != 0 {
			t.Fatalf("repair reversed an unrecorded sale: %d %v", n, err)
		}
		if lag, err := e.client.RepairLag(ctx, now); err != nil || lag != 0 {
			t.Fatalf("repair lag %s %v", lag, err)
		}
		if lag, err := e.client.RepairLag(ctx, e.clock.Now().Add(11*time.Minute)); err != nil || lag < 59*time.Second {
			t.Fatalf("repair lag past the owner grace %s %v", lag, err)
		}
		d := e.deps
		d.Network = e.client
		if n, err := e.service(t, d).Recover(ctx, now); err != nil || n != 1 {
			t.Fatalf("recover: %d %v", n, err)
		}
		if l := e.loadsOf(t, v); len(l) != 1 || l[0].Status != prepaid.LoadSucceeded {
			t.Fatalf("load %+v", l)
		}
		e.check(t)
	})
}
