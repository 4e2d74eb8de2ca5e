module github.com/twistgo/twist/bench

go 1.26.0

replace github.com/twistgo/twist => ../

require (
	github.com/cloudwego/netpoll v0.7.2
	github.com/twistgo/twist v0.0.0-00010101000000-000000000000
	go.uber.org/goleak v1.3.0
	golang.org/x/sys v0.49.0
)

require (
	github.com/bytedance/gopkg v0.1.1 // indirect
	github.com/cloudwego/gopkg v0.1.4 // indirect
	golang.org/x/sync v0.24.0 // indirect
)
