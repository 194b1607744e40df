package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/mapwright/mapwright/internal/store"
)

// Bench runs the store benchmarks: the hot paths of the key service and the
// audit log. open must return a new, empty store for each call; Bench
// closes it.
func Bench(b *testing.B, open func(b *testing.B) store.Store) {
	b.Run("GetKeyByHash", func(b *testing.B) {
		s := open(b)
		defer s.Close()
		const n = 1000
		keys := make([]store.Key, n)
		for i := range keys {
			keys[i] = fullKey(i)
		}
		benchInsert(b, s, keys)
		ctx := context.Background()
		for i := 0; b.Loop(); i++ {
			if _, err := s.GetKeyByHash(ctx, keys[i%n].Hash); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ListKeysPage", func(b *testing.B) {
		s := open(b)
		defer s.Close()
		keys := make([]store.Key, 500)
		for i := range keys {
			keys[i] = fullKey(i)
		}
		benchInsert(b, s, keys)
		ctx := context.Background()
		for b.Loop() {
			if _, _, err := s.ListKeys(ctx, store.KeyFilter{State: store.StateRevoked, Now: t0.Add(24 * time.Hour), Limit: 100}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AppendAudit", func(b *testing.B) {
		s := open(b)
		defer s.Close()
		ctx := context.Background()
		ev := event(1)
		for b.Loop() {
			if err := s.Update(ctx, func(tx store.Tx) error {
				_, err := appendEvent(ctx, tx, ev)
				return err
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AppendAuditParallel", func(b *testing.B) {
		s := open(b)
		defer s.Close()
		ctx := context.Background()
		ev := event(1)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := s.Update(ctx, func(tx store.Tx) error {
					_, err := appendEvent(ctx, tx, ev)
					return err
				}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("TouchKeys100", func(b *testing.B) {
		s := open(b)
		defer s.Close()
		keys := make([]store.Key, 100)
		for i := range keys {
			keys[i] = minimalKey(i)
		}
		benchInsert(b, s, keys)
		ctx := context.Background()
		for i := 0; b.Loop(); i++ {
			touch := make(map[string]time.Time, len(keys))
			for _, k := range keys {
				touch[k.ID] = t0.Add(time.Duration(i) * time.Second)
			}
			if err := s.TouchKeys(ctx, touch); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func benchInsert(b *testing.B, s store.Store, keys []store.Key) {
	b.Helper()
	err := s.Update(context.Background(), func(tx store.Tx) error {
		for _, k := range keys {
			if err := tx.InsertKey(context.Background(), k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}
