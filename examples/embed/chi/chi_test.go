package main

import (
	"testing"

	"github.com/identitykit/identity/examples/embed/internal/embedtest"
)

func TestChi(t *testing.T) { embedtest.Run(t, newRouter) }
