package failure

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
)

// LogValue implements [slog.LogValuer]: a Failure logs as a group of its
// message, its error's type, whether it came from a panic, and its
// traceback as a list of frames, outermost first, each "function
// file:line". slog.JSONHandler writes the list as a JSON array;
// slog.TextHandler, which keeps a record on one line, writes it as one
// quoted string with the frames separated by "; ".
func (f *Failure) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("message", f.Error()),
		slog.String("type", typeName(f.err)),
	}
	if f.panicked {
		attrs = append(attrs, slog.Bool("panicked", true))
	}
	frames := f.Frames()
	lines := make(traceLines, len(frames))
	for i, fr := range frames {
		lines[i] = fmt.Sprintf("%s %s:%d", fr.Function, fr.File, fr.Line)
	}
	attrs = append(attrs, slog.Any("traceback", lines))
	return slog.GroupValue(attrs...)
}

// traceLines is a traceback as a log attribute: an array in JSON, a line
// in text.
type traceLines []string

// MarshalJSON writes the frames as a JSON array of strings.
func (t traceLines) MarshalJSON() ([]byte, error) { return json.Marshal([]string(t)) }

// MarshalText writes the frames on one line, separated by "; ".
func (t traceLines) MarshalText() ([]byte, error) { return []byte(strings.Join(t, "; ")), nil }

// Detach returns a Failure that reports what f reports (its message, its
// error's type, its traceback and whether it panicked) but keeps alive
// nothing that f's error refers to, except the errors in f's chain that
// refer to no other object (sentinels such as io.EOF or an errors.New
// value, syscall errnos), which its Unwrap returns so that errors.Is
// still matches them. When nothing in f's error refers to another object
// (the usual case), Detach returns f itself.
//
// A report made after an object has been garbage collected needs this: a
// Failure whose error points back to that object would keep it alive
// forever (runtime.AddCleanup never runs for an object its argument
// reaches).
func (f *Failure) Detach() *Failure {
	budget := inertBudget
	if inertValue(reflect.ValueOf(f.err), &budget) {
		return f
	}
	d := &detachedError{msg: f.err.Error(), typ: typeName(f.err)}
	d.kept = keepInert(f.err, d.kept)
	return &Failure{err: d, pcs: slices.Clone(f.pcs), fn: f.fn, panicked: f.panicked}
}

// detachedError stands for an error that [Failure.Detach] could not keep.
type detachedError struct {
	msg  string
	typ  string
	kept []error // the parts of the original chain that refer to nothing
}

func (e *detachedError) Error() string   { return e.msg }
func (e *detachedError) Unwrap() []error { return e.kept }

// inertBudget bounds the values an inertness check visits: a larger or
// cyclic error is treated as referring to other objects.
const inertBudget = 64

// keepInert appends to kept the errors of err's tree that refer to nothing,
// looking inside the others.
func keepInert(err error, kept []error) []error {
	if err == nil || len(kept) >= inertBudget {
		return kept
	}
	budget := inertBudget
	if inertValue(reflect.ValueOf(err), &budget) {
		return append(kept, err)
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		kept = keepInert(u.Unwrap(), kept)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			kept = keepInert(e, kept)
		}
	}
	return kept
}

// inertValue reports whether v refers to no object other than inert
// ones, within budget values. A cycle exhausts the budget, so a value that
// reaches back to itself is never inert.
func inertValue(v reflect.Value, budget *int) bool {
	*budget--
	if *budget < 0 {
		return false
	}
	if !v.IsValid() || inertType(v.Type()) {
		return true
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		return v.IsNil() || inertValue(v.Elem(), budget)
	case reflect.Array, reflect.Slice:
		for i := range v.Len() {
			if !inertValue(v.Index(i), budget) {
				return false
			}
		}
		return true
	case reflect.Struct:
		for i := range v.NumField() {
			if !inertValue(v.Field(i), budget) {
				return false
			}
		}
		return true
	default: // maps, channels, functions, unsafe pointers
		switch v.Kind() {
		case reflect.Map, reflect.Chan, reflect.Func, reflect.UnsafePointer:
			return v.IsNil()
		}
		return false
	}
}

// inertTypes caches inertType's answers.
var inertTypes sync.Map // reflect.Type → bool

// inertType reports whether no value of type t can refer to anything but
// strings and other inert data.
func inertType(t reflect.Type) bool {
	if ok, found := inertTypes.Load(t); found {
		return ok.(bool)
	}
	ok := inertTypeOf(t, map[reflect.Type]bool{})
	inertTypes.Store(t, ok)
	return ok
}

func inertTypeOf(t reflect.Type, visiting map[reflect.Type]bool) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128, reflect.String:
		return true
	case reflect.Array, reflect.Slice, reflect.Pointer:
		if visiting[t] {
			return true // a recursive type of inert parts
		}
		visiting[t] = true
		return inertTypeOf(t.Elem(), visiting)
	case reflect.Struct:
		if visiting[t] {
			return true
		}
		visiting[t] = true
		for i := range t.NumField() {
			if !inertTypeOf(t.Field(i).Type, visiting) {
				return false
			}
		}
		return true
	}
	return false
}
