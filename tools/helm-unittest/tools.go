//go:build tools

// Package tools pins helm-unittest's command (cmd/helm-unittest) as a build
// dependency: a main package cannot be imported, so this imports what it imports.
package tools

import (
	_ "github.com/helm-unittest/helm-unittest/pkg/unittest"
	_ "github.com/helm-unittest/helm-unittest/pkg/unittest/formatter"
	_ "github.com/helm-unittest/helm-unittest/pkg/unittest/printer"
	_ "github.com/sirupsen/logrus"
	_ "github.com/spf13/cobra"
)
