package main

import (
	"testing"

	"github.com/twistgo/twist/examples/internal/extest"
	"github.com/twistgo/twist/examples/internal/spreadtest"
)

func TestMain(m *testing.M) { extest.Main(m, main) }

func TestSpreadSite(t *testing.T) { spreadtest.SpreadSite(t) }

func TestClientStopsOnSignal(t *testing.T) { spreadtest.ClientStopsOnSignal(t) }

func TestConnectionFailed(t *testing.T) { spreadtest.ConnectionFailed(t) }

func TestListenFailure(t *testing.T) { spreadtest.ListenFailure(t) }
