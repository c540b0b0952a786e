// Command yaml-reference prints what gopkg.in/yaml.v2 v2.4.0 (the Dapr CLI's YAML library) makes of lists of
// records, to regenerate test/cli/fixtures/yaml-v2.json:
//
//	mkdir -p $GOPATH/src/gopkg.in/yaml.v2   # the v2.4.0 sources (git archive v2.4.0 of github.com/go-yaml/yaml)
//	GO111MODULE=off go run scripts/yaml-reference/main.go < cases.jsonl > test/cli/fixtures/yaml-v2.jsonl
//
// Each stdin line is a JSON array of records (objects, key order kept; values string, integer, bool or null, or
// {"$time": "<RFC 3339>"} for a Go time.Time field, which yaml.v2 writes with its own rule).
// Output: one JSON line [input, yaml.Marshal(input)] per input line. Records become yaml.MapSlice, so keys keep their
// order as the Dapr CLI's structs do.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"gopkg.in/yaml.v2"
)

func record(dec *json.Decoder) yaml.MapSlice {
	var out yaml.MapSlice
	if t, _ := dec.Token(); t != json.Delim('{') {
		panic("expected an object")
	}
	for dec.More() {
		key, _ := dec.Token()
		var value interface{}
		if err := dec.Decode(&value); err != nil {
			panic(err)
		}
		if m, ok := value.(map[string]interface{}); ok {
			t, err := time.Parse(time.RFC3339Nano, m["$time"].(string))
			if err != nil {
				panic(err)
			}
			value = t.UTC()
		}
		if n, ok := value.(json.Number); ok {
			i, err := n.Int64()
			if err != nil {
				panic(err)
			}
			value = i
		}
		out = append(out, yaml.MapItem{Key: key.(string), Value: value})
	}
	dec.Token()
	return out
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		dec := json.NewDecoder(bytes.NewReader(in.Bytes()))
		dec.UseNumber()
		if t, _ := dec.Token(); t != json.Delim('[') {
			panic("expected an array")
		}
		list := []yaml.MapSlice{}
		for dec.More() {
			list = append(list, record(dec))
		}
		if _, err := dec.Token(); err != nil && err != io.EOF {
			panic(err)
		}
		text, err := yaml.Marshal(list)
		if err != nil {
			panic(err)
		}
		line, err := json.Marshal([2]interface{}{json.RawMessage(in.Bytes()), string(text)})
		if err != nil {
			panic(err)
		}
		fmt.Fprintln(out, string(line))
	}
}
