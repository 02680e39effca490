package main

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

func TestCheckPprofAddr(t *testing.T) {
	tests := []struct {
		addr    string
		wantErr bool
	}{
		{"", false},
		{"127.0.0.1:6060", false},
		{"[::1]:6060", false},
		{"localhost:0", false},
		{"127.0.0.2:6060", false},
		{":6060", true},
		{"0.0.0.0:6060", true},
		{"[::]:6060", true},
		{"10.0.0.1:6060", true},
		{"example.com:6060", true},
		{"127.0.0.1", true},
	}
	for _, tt := range tests {
		if err := checkPprofAddr(tt.addr); (err != nil) != tt.wantErr {
			t.Errorf("checkPprofAddr(%q) = %v, want error %v", tt.addr, err, tt.wantErr)
		}
	}
	if _, err := parseConfig([]string{"-pprof-addr", ":6060"}, func(string) string { return "" }, io.Discard); err == nil {
		t.Error("parseConfig accepted -pprof-addr :6060")
	}
	c, err := parseConfig(nil, func(k string) string {
		if k == "IDENTITY_PPROF_ADDR" {
			return "127.0.0.1:6061"
		}
		return ""
	}, io.Discard)
	if err != nil || c.PprofAddr != "127.0.0.1:6061" {
		t.Fatalf("IDENTITY_PPROF_ADDR: %v %+v", err, c)
	}
}

func TestStartPprof(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if addr, stop, err := startPprof("", log); err != nil || addr != "" {
		t.Fatalf("off: %q %v", addr, err)
	} else {
		stop()
	}
	addr, stop, err := startPprof("127.0.0.1:0", log)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	res, err := http.Get("http://" + addr + "/debug/pprof/heap?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(b), "heap profile") {
		t.Fatalf("heap profile: %d %.200s", res.StatusCode, b)
	}
}
