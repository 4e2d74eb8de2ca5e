package service_test

// childEnv names the test a re-executed test binary runs as a child
// process (see TestMain).
const childEnv = "TWIST_SERVICE_CHILD"

func childMain(name string) int { return 2 }
