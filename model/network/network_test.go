package network

import "testing"

type nop struct{ n int }

func (l *nop) Accept(*Request) { l.n++ }

func TestListenLookupClose(t *testing.T) {
	f := New()
	l := &nop{}
	if err := f.Listen("10.244.1.2:80", l); err != nil {
		t.Fatal(err)
	}
	if err := f.Listen("10.244.1.2:80", &nop{}); err == nil {
		t.Fatal("second listener on one address accepted")
	}
	got, ok := f.Lookup("10.244.1.2:80")
	if !ok || got != l || f.Len() != 1 {
		t.Fatalf("lookup: %v %v", got, ok)
	}
	f.Close("10.244.1.2:80")
	f.Close("10.244.1.2:80") // closing twice is harmless
	if _, ok := f.Lookup("10.244.1.2:80"); ok || f.Len() != 0 {
		t.Fatal("closed address still listening")
	}
}
