package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twistgo/twist/examples/internal/extest"
)

func TestMain(m *testing.M) { extest.Main(m, main) }

func TestDemoDownloadsThreePoemsConcurrently(t *testing.T) {
	// 16 bytes every 20 ms: each poem takes about 8 x 20 ms to send.
	p := extest.Start(t)
	rest, err := p.Wait(t)
	require.NoError(t, err)
	require.Len(t, rest, 7, "three servers, three tasks, one summary: %q", rest)
	tasks := map[string]bool{}
	taskLine := regexp.MustCompile(`^Task (\d): got (\d+) bytes of poetry from 127\.0\.0\.1:\d+ in `)
	for _, line := range rest[3:6] {
		m := taskLine.FindStringSubmatch(line)
		require.NotNil(t, m, "line %q", line)
		tasks[m[1]] = true
		i := int(m[1][0] - '1')
		assert.Equal(t, fmt.Sprint(len(poems[i])), m[2], "the whole poem %d arrived", i+1)
	}
	assert.Len(t, tasks, 3)
	assert.True(t, strings.HasPrefix(rest[6], "Got 3 poems in "), rest[6])
}

func TestServeAndGet(t *testing.T) {
	server := extest.Start(t, "-serve", "127.0.0.1:0", "-chunk", "1000")
	line := server.Expect(t, "Serving a poem of ")
	addr := line[strings.LastIndex(line, " ")+1:]

	client := extest.Start(t, "-get", addr+","+addr)
	rest, err := client.Wait(t)
	require.NoError(t, err)
	require.Len(t, rest, 3)
	assert.Contains(t, rest[0], fmt.Sprintf("got %d bytes of poetry from %s", len(poems[0]), addr))
	assert.Contains(t, rest[1], fmt.Sprintf("got %d bytes of poetry from %s", len(poems[0]), addr))
	assert.True(t, strings.HasPrefix(rest[2], "Got 2 poems in "))
}

func TestGetFromNowhereFails(t *testing.T) {
	client := extest.Start(t, "-get", "127.0.0.1:1")
	_, err := client.Wait(t)
	require.Error(t, err, "a refused connection fails the download")
}
