package framework

import (
	"errors"
	"strings"
)

// Code is the outcome of an extension-point call (staging k8s.io/kube-scheduler/
// framework/interface.go Code).
type Code uint8

// Codes. A nil *Status is Success.
const (
	// Success: the plug-in accepts.
	Success Code = iota
	// Error: an internal error; the scheduling attempt fails and the pod goes to the
	// error backoff queue.
	Error
	// Unschedulable: the node cannot run the pod now; preemption might help.
	Unschedulable
	// UnschedulableAndUnresolvable: the node cannot run the pod and preemption would
	// not help (taints, selectors, a request larger than the node).
	UnschedulableAndUnresolvable
	// Skip: from PreFilter or PreScore, do not run this plug-in's Filter or Score for
	// the pod; from Bind, let the next binder handle it.
	Skip
)

var codeNames = [...]string{"Success", "Error", "Unschedulable", "UnschedulableAndUnresolvable", "Skip"}

func (c Code) String() string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return "Code(?)"
}

// Status is the result of an extension-point call. A nil *Status means Success.
// Statuses are immutable once returned: plug-ins may return the same *Status value
// from many calls (kubesim's plug-ins pre-build their common rejections to keep the
// filter loop allocation-free).
type Status struct {
	code    Code
	reasons []string
	err     error
}

// NewStatus returns a status with the code and reasons.
func NewStatus(code Code, reasons ...string) *Status {
	return &Status{code: code, reasons: reasons}
}

// AsStatus wraps an error into an Error status (nil for a nil error).
func AsStatus(err error) *Status {
	if err == nil {
		return nil
	}
	return &Status{code: Error, reasons: []string{err.Error()}, err: err}
}

// Code returns the status code; Success for nil.
func (s *Status) Code() Code {
	if s == nil {
		return Success
	}
	return s.code
}

// IsSuccess reports whether the status is nil or Success.
func (s *Status) IsSuccess() bool { return s.Code() == Success }

// IsSkip reports whether the code is Skip.
func (s *Status) IsSkip() bool { return s.Code() == Skip }

// IsRejected reports whether the code is Unschedulable or UnschedulableAndUnresolvable.
func (s *Status) IsRejected() bool {
	c := s.Code()
	return c == Unschedulable || c == UnschedulableAndUnresolvable
}

// Reasons returns the reasons (shared; do not modify).
func (s *Status) Reasons() []string {
	if s == nil {
		return nil
	}
	return s.reasons
}

// Message joins the reasons with ", ".
func (s *Status) Message() string {
	if s == nil {
		return ""
	}
	return strings.Join(s.reasons, ", ")
}

// AsError returns the status as an error (nil for Success and Skip).
func (s *Status) AsError() error {
	if s.IsSuccess() || s.IsSkip() {
		return nil
	}
	if s.err != nil {
		return s.err
	}
	return errors.New(s.Message())
}

func (s *Status) String() string {
	if s == nil {
		return "Success"
	}
	if len(s.reasons) == 0 {
		return s.code.String()
	}
	return s.code.String() + ": " + s.Message()
}
