// Command gob-reference is the Go side of dapr-housekeeper's gob cross-check (test/scheduler/gob-crosscheck.test.ts).
// It uses Go's own encoding/gob on a struct shaped exactly like the Dapr CLI's export file (dapr/cli
// pkg/scheduler/exportimport.go: type ExportFile struct { Jobs map[string][]byte; Counters map[string][]byte }),
// so the bytes it writes are what `dapr scheduler export` writes and what it reads is what `dapr scheduler import`
// reads. Standard library only; builds offline with GO111MODULE=off.
//
// Usage:
//
//	gob-reference encode <in.json> <out.bin>   JSON description -> gob file
//	gob-reference decode <in.bin> <out.json>   gob file -> JSON description
//	gob-reference encode-sorted <in.json> <out.bin>
//	    like encode, but writes the two maps' entries in sorted key order (see below), for byte comparison
//
// The JSON description is {"jobs": [[key, base64 value], ...], "counters": [[key, base64 value], ...], "nil": [...]}
// ("nil" names maps that are nil rather than empty). decode lists the entries sorted by key.
//
// encoding/gob encodes a map by ranging over it, and Go randomises map iteration order, so two runs of `encode` on
// the same input give different bytes whenever a map has two or more entries. "encode-sorted" gets a deterministic
// stream from the real encoder anyway: it encodes the struct with each map holding a single entry, and splices the
// entries together in sorted order; the result is checked by decoding it with encoding/gob before it is written.
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
)

// ExportFile mirrors the Dapr CLI's type: gob sends the type name and the field names, so both must match.
type ExportFile struct {
	Jobs     map[string][]byte
	Counters map[string][]byte
}

type description struct {
	Jobs     [][2]string `json:"jobs"`
	Counters [][2]string `json:"counters"`
	// Nil marks maps to send as nil (gob then omits the field) instead of empty.
	Nil []string `json:"nil,omitempty"`
}

func main() {
	if len(os.Args) != 4 {
		fail(errors.New("usage: gob-reference encode|encode-sorted|decode <in> <out>"))
	}
	var err error
	switch os.Args[1] {
	case "encode":
		err = encode(os.Args[2], os.Args[3], false)
	case "encode-sorted":
		err = encode(os.Args[2], os.Args[3], true)
	case "decode":
		err = decode(os.Args[2], os.Args[3])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gob-reference:", err)
	os.Exit(1)
}

func toMap(entries [][2]string, isNil bool) (map[string][]byte, error) {
	if isNil {
		if len(entries) > 0 {
			return nil, errors.New("a nil map cannot have entries")
		}
		return nil, nil
	}
	m := make(map[string][]byte, len(entries))
	for _, e := range entries {
		v, err := base64.StdEncoding.DecodeString(e[1])
		if err != nil {
			return nil, fmt.Errorf("value of %q: %w", e[0], err)
		}
		if _, dup := m[e[0]]; dup {
			return nil, fmt.Errorf("duplicate key %q", e[0])
		}
		m[e[0]] = v
	}
	return m, nil
}

func readDescription(path string) (*ExportFile, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var d description
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, err
	}
	isNil := map[string]bool{}
	for _, n := range d.Nil {
		isNil[n] = true
	}
	jobs, err := toMap(d.Jobs, isNil["jobs"])
	if err != nil {
		return nil, err
	}
	counters, err := toMap(d.Counters, isNil["counters"])
	if err != nil {
		return nil, err
	}
	return &ExportFile{Jobs: jobs, Counters: counters}, nil
}

func encode(in, out string, sorted bool) error {
	file, err := readDescription(in)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if !sorted {
		// Exactly what the Dapr CLI does: gob.NewEncoder(f).Encode(&out).
		if err := gob.NewEncoder(&buf).Encode(file); err != nil {
			return err
		}
	} else {
		b, err := encodeSorted(file)
		if err != nil {
			return err
		}
		buf.Write(b)
	}
	// Whatever we write must read back, through encoding/gob, as the same maps.
	var back ExportFile
	if err := gob.NewDecoder(bytes.NewReader(buf.Bytes())).Decode(&back); err != nil {
		return fmt.Errorf("self-check decode: %w", err)
	}
	if !sameMap(back.Jobs, file.Jobs) || !sameMap(back.Counters, file.Counters) {
		return errors.New("self-check: decoded maps differ from the input")
	}
	return os.WriteFile(out, buf.Bytes(), 0o600)
}

func sameMap(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}

// encodeSorted builds the stream encoding/gob would write if it ranged over the maps in sorted key order. A gob
// stream for one value is: type-definition messages, then one value message (uint length, int type id, struct
// fields). Each map field is (uint field delta, uint count, count x (string key, []byte value)). We let the real
// encoder produce every piece: the type definitions and the encoding of each single entry come from encoding an
// ExportFile holding just that entry.
func encodeSorted(file *ExportFile) ([]byte, error) {
	// Type definitions: encode an empty value and keep everything before the value message.
	var empty bytes.Buffer
	if err := gob.NewEncoder(&empty).Encode(&ExportFile{Jobs: map[string][]byte{}, Counters: map[string][]byte{}}); err != nil {
		return nil, err
	}
	types, _, err := splitLastMessage(empty.Bytes())
	if err != nil {
		return nil, err
	}
	var body bytes.Buffer
	// The value message starts with the type id (a gob int, written as the encoder wrote it for the empty value).
	_, emptyValue, err := splitLastMessage(empty.Bytes())
	if err != nil {
		return nil, err
	}
	typeID, _, err := readUint(emptyValue)
	if err != nil {
		return nil, err
	}
	writeUint(&body, typeID)
	fields := []struct {
		m     map[string][]byte
		delta uint64
	}{{file.Jobs, 1}, {file.Counters, 1}}
	pendingDelta := uint64(0)
	for _, f := range fields {
		pendingDelta += f.delta
		if f.m == nil {
			continue // gob omits a nil map; the next field's delta grows by one
		}
		writeUint(&body, pendingDelta)
		pendingDelta = 0
		writeUint(&body, uint64(len(f.m)))
		keys := make([]string, 0, len(f.m))
		for k := range f.m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			entry, err := singleEntry(k, f.m[k])
			if err != nil {
				return nil, err
			}
			body.Write(entry)
		}
	}
	body.WriteByte(0) // end of struct
	var out bytes.Buffer
	out.Write(types)
	writeUint(&out, uint64(body.Len()))
	out.Write(body.Bytes())
	return out.Bytes(), nil
}

// singleEntry returns the bytes encoding/gob writes for one map entry (key then value).
func singleEntry(k string, v []byte) ([]byte, error) {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(&ExportFile{Jobs: map[string][]byte{k: v}}); err != nil {
		return nil, err
	}
	_, value, err := splitLastMessage(buf.Bytes())
	if err != nil {
		return nil, err
	}
	// value = type id, field delta 1, count 1, entry, 0 (end of struct)
	rest := value
	for i := 0; i < 3; i++ {
		_, n, err := readUint(rest)
		if err != nil {
			return nil, err
		}
		rest = rest[n:]
	}
	if len(rest) == 0 || rest[len(rest)-1] != 0 {
		return nil, errors.New("unexpected single-entry layout")
	}
	return rest[:len(rest)-1], nil
}

// splitLastMessage returns the messages before the last one, and the last message's payload.
func splitLastMessage(stream []byte) (before []byte, last []byte, err error) {
	pos := 0
	for pos < len(stream) {
		length, n, err := readUint(stream[pos:])
		if err != nil {
			return nil, nil, err
		}
		end := pos + n + int(length)
		if end > len(stream) {
			return nil, nil, errors.New("truncated message")
		}
		if end == len(stream) {
			return stream[:pos], stream[pos+n : end], nil
		}
		pos = end
	}
	return nil, nil, errors.New("empty stream")
}

func readUint(b []byte) (uint64, int, error) {
	if len(b) == 0 {
		return 0, 0, errors.New("short uint")
	}
	if b[0] <= 0x7f {
		return uint64(b[0]), 1, nil
	}
	n := -int(int8(b[0]))
	if n > 8 || len(b) < 1+n {
		return 0, 0, errors.New("bad uint")
	}
	var x uint64
	for _, c := range b[1 : 1+n] {
		x = x<<8 | uint64(c)
	}
	return x, 1 + n, nil
}

func writeUint(buf *bytes.Buffer, x uint64) {
	if x <= 0x7f {
		buf.WriteByte(byte(x))
		return
	}
	var tmp [8]byte
	n := 8
	for x > 0 {
		n--
		tmp[n] = byte(x)
		x >>= 8
	}
	buf.WriteByte(byte(-(8 - n)))
	buf.Write(tmp[n:])
}

func decode(in, out string) error {
	raw, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	var file ExportFile
	dec := gob.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&file); err != nil {
		return err
	}
	d := description{Jobs: [][2]string{}, Counters: [][2]string{}}
	for _, k := range sortedKeys(file.Jobs) {
		d.Jobs = append(d.Jobs, [2]string{k, base64.StdEncoding.EncodeToString(file.Jobs[k])})
	}
	for _, k := range sortedKeys(file.Counters) {
		d.Counters = append(d.Counters, [2]string{k, base64.StdEncoding.EncodeToString(file.Counters[k])})
	}
	if file.Jobs == nil {
		d.Nil = append(d.Nil, "jobs")
	}
	if file.Counters == nil {
		d.Nil = append(d.Nil, "counters")
	}
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return os.WriteFile(out, b, 0o600)
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
