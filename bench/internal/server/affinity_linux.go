package server

import "golang.org/x/sys/unix"

func allowedCPUs() (map[int]bool, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil, err
	}
	cpus := map[int]bool{}
	for i := range 1024 {
		if set.IsSet(i) {
			cpus[i] = true
		}
	}
	return cpus, nil
}
