// Package benchenv finds what the bench commands need on the machine: the
// bench module's directory and a python3 that can import Twisted.
package benchenv

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ModulePath is the bench module's path.
const ModulePath = "github.com/twistgo/twist/bench"

// FindRoot returns the bench module's directory, searching from the working
// directory up.
func FindRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(data), "module "+ModulePath+"\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no " + ModulePath + " module above the working directory; run from bench/ or pass -root")
		}
		dir = parent
	}
}

// FindPython returns the first interpreter that imports twisted, and
// Twisted's version: flagged when it is not empty, else python3 on PATH,
// then /usr/bin/python3 (where Debian's python3-twisted lives when PATH
// points at another python3, such as pyenv's). Empty strings when none does.
func FindPython(ctx context.Context, flagged string) (path, twistedVersion string) {
	candidates := []string{"python3", "/usr/bin/python3"}
	if flagged != "" {
		candidates = []string{flagged}
	}
	for _, c := range candidates {
		out, err := exec.CommandContext(ctx, c, "-c", "import twisted; print(twisted.__version__)").Output()
		if err != nil {
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p, strings.TrimSpace(string(out))
		}
	}
	return "", ""
}

// MissingTwisted says why the Twisted peer is skipped and how to install it.
const MissingTwisted = "Twisted is not installed for any python3 tried (python3 -c 'import twisted' failed); " +
	"install it with `apt-get update && apt-get install -y python3-twisted`"
