// Command go-format-reference prints what Go's standard library makes of test values, for the TypeScript tests to
// compare against (test/cli/go-format-crosscheck.test.ts). Standard library only; build with GO111MODULE=off.
//
//	humanize: one int64 nanosecond count per stdin line -> dapr/cli utils.HumanizeDuration of it, one per line.
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"time"
)

// humanizeDuration is dapr/cli utils/utils.go HumanizeDuration (the formatting is Go's fmt and time.Duration).
func humanizeDuration(d time.Duration) string {
	if d == 0 {
		return ""
	}
	if d < 0 {
		d = -d
	}
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d.Nanoseconds())
	case d < time.Millisecond:
		return fmt.Sprintf("%.1fµs", float64(d)/1e3)
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/1e6)
	case d < time.Minute:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%.1fm", d.Minutes())
	default:
		return fmt.Sprintf("%.1fh", d.Hours())
	}
}

func main() {
	if len(os.Args) != 2 || os.Args[1] != "humanize" {
		fmt.Fprintln(os.Stderr, "usage: go-format-reference humanize < values")
		os.Exit(2)
	}
	in := bufio.NewScanner(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		ns, err := strconv.ParseInt(in.Text(), 10, 64)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Fprintln(out, humanizeDuration(time.Duration(ns)))
	}
}
