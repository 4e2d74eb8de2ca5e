package main

import (
	"testing"

	"github.com/twistgo/twist/examples/internal/extest"
	"github.com/twistgo/twist/examples/internal/quicktest"
)

func TestMain(m *testing.M) { extest.Main(m, main) }

func TestConnectsAndDisconnects(t *testing.T) { quicktest.ConnectsAndDisconnects(t) }

func TestConnectionFailed(t *testing.T) { quicktest.ConnectionFailed(t) }
