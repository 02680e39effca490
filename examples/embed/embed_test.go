package main

import (
	"testing"

	"github.com/identitykit/identity/examples/embed/internal/embedtest"
)

func TestEmbed(t *testing.T) { embedtest.Run(t, newHandler) }
