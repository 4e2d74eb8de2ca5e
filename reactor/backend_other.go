//go:build !linux

package reactor

// DefaultBackend is the backend [New] uses without [WithBackend]: [Epoll] on
// Linux, [Portable] elsewhere.
const DefaultBackend = Portable
