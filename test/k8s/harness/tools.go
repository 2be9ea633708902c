//go:build tools

// Package tools pins the packages the build script compiles from this module
// (the e2e suite, agnhost and the ginkgo CLI), so `go mod tidy` keeps their requirements.
package tools

import (
	_ "github.com/onsi/ginkgo/v2/ginkgo"
	_ "k8s.io/kubernetes/test/e2e"
	_ "k8s.io/kubernetes/test/images/agnhost"
)
