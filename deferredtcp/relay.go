package deferredtcp

// maxInline is how many Deferreds a loop's connections hand out already
// fired in one turn: a Read whose bytes are queued, a Write under the high
// watermark. A chain that loops through such Deferreds ("read the next line
// in the callback of this one") runs each step inside the AddCallback that
// adds it, a few stack frames deeper than the last; past maxInline the loop
// fires them on its next turn instead, so that the chain runs in constant
// stack however long it loops. Netty bounds its promises' inline listener
// notification at the same depth.
const maxInline = 8

// relay is a loop's count of the Deferreds handed out fired in the current
// turn, and its queue of connections whose Deferreds wait for the next turn.
// A turn is the handling of one event of a connection (bytes read, the end
// of the stream, bytes written), which the I/O paths run at the bottom of
// the loop's stack, or one connection's share of run. Deferreds handed out
// anywhere else (a timer, a Serve handler) count until run resets the count
// at the start of the loop's next iteration.
type relay struct {
	call   func(func()) // the reactor's CallFromGoroutine
	runFn  func()
	inline int  // Deferreds handed out fired in this turn
	inTurn bool // a turn is running: it resets the count when it begins
	queued bool // runFn is queued on the loop
	due    []*Conn
	spare  []*Conn
}

func (rl *relay) init(call func(func())) {
	rl.call = call
	rl.runFn = rl.run
}

// mayInline reports whether the turn may hand out another Deferred fired.
func (rl *relay) mayInline() bool { return rl.inline < maxInline }

// inlined counts a Deferred handed out fired.
func (rl *relay) inlined() {
	rl.inline++
	if !rl.inTurn {
		rl.arm()
	}
}

// beginTurn and endTurn bracket a turn.
func (rl *relay) beginTurn() { rl.inline, rl.inTurn = 0, true }
func (rl *relay) endTurn()   { rl.inTurn = false }

// later queues c, whose fired Deferreds wait, for the loop's next turn.
func (rl *relay) later(c *Conn) {
	if c.due {
		return
	}
	c.due = true
	rl.due = append(rl.due, c)
	rl.arm()
}

func (rl *relay) arm() {
	if !rl.queued {
		rl.queued = true
		rl.call(rl.runFn)
	}
}

// run fires what waits for this turn, each connection's share at the bottom
// of the loop's stack; what that queues waits for the next run.
func (rl *relay) run() {
	rl.queued = false
	due := rl.due
	rl.due = rl.spare
	for i, c := range due {
		due[i] = nil
		rl.beginTurn()
		c.fireDue()
	}
	rl.inline, rl.inTurn = 0, false
	rl.spare = due[:0]
}
