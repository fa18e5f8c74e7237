package sms_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/qujat/qujat/integrations/sms"
	"github.com/qujat/qujat/wallet"
)

func TestOutbox_MessagesNewestFirstByRecipient(t *testing.T) {
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	o := sms.NewOutbox(0, clock)
	ctx := context.Background()
	for i, to := range []string{"+77011234567", "+77020000000", "+77011234567"} {
		now = now.Add(time.Second)
		if err := o.Send(ctx, to, fmt.Sprint("m", i)); err != nil {
			t.Fatal(err)
		}
	}
	got := o.Messages("+77011234567")
	if len(got) != 2 || got[0].Text != "m2" || got[1].Text != "m0" {
		t.Fatalf("messages to one phone: %+v", got)
	}
	if !got[0].At.Equal(time.Date(2026, 11, 23, 9, 0, 3, 0, time.UTC)) || got[0].To != "+77011234567" {
		t.Fatalf("newest message %+v", got[0])
	}
	if all := o.Messages(""); len(all) != 3 || all[0].Text != "m2" || all[2].Text != "m0" {
		t.Fatalf("all messages: %+v", all)
	}
	if national := o.Messages("8 701 123-45-67"); len(national) != 2 {
		t.Fatalf("a national number finds %d messages, want 2", len(national))
	}
	if none := o.Messages("+77770000000"); none == nil || len(none) != 0 {
		t.Fatalf("no messages should be an empty list, got %#v", none)
	}
}

func TestOutbox_KeepsOnlyTheLastThousand(t *testing.T) {
	o := sms.NewOutbox(sms.DefaultOutboxCapacity, nil)
	ctx := context.Background()
	for i := 0; i < 1005; i++ {
		if err := o.Send(ctx, "+77011234567", fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	all := o.Messages("")
	if len(all) != 1000 {
		t.Fatalf("kept %d messages, want 1000", len(all))
	}
	if all[0].Text != "1004" || all[999].Text != "5" {
		t.Fatalf("newest %q, oldest %q; want 1004 and 5", all[0].Text, all[999].Text)
	}
}

func TestOutbox_SmallCapacityWrapsInOrder(t *testing.T) {
	o := sms.NewOutbox(3, nil)
	for i := 0; i < 7; i++ {
		_ = o.Send(context.Background(), "+77011234567", fmt.Sprint(i))
	}
	var texts []string
	for _, m := range o.Messages("") {
		texts = append(texts, m.Text)
	}
	if fmt.Sprint(texts) != "[6 5 4]" {
		t.Fatalf("got %v, want [6 5 4]", texts)
	}
}

func TestOutbox_CancelledContextIsUnavailable(t *testing.T) {
	o := sms.NewOutbox(0, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := o.Send(ctx, "+77011234567", "x"); wallet.ErrorCode(err) != wallet.EUNAVAILABLE {
		t.Fatalf("err = %v", err)
	}
	if len(o.Messages("")) != 0 {
		t.Fatal("a failed send was kept")
	}
}

func TestOutbox_ConcurrentSendsAndReads(t *testing.T) {
	o := sms.NewOutbox(100, nil)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				_ = o.Send(context.Background(), fmt.Sprintf("+7701000000%d", g), "x")
				_ = o.Messages("")
			}
		}()
	}
	wg.Wait()
	if n := len(o.Messages("")); n != 100 {
		t.Fatalf("kept %d, want 100", n)
	}
}
