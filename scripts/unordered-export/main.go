// Command unordered-export writes a `dapr scheduler export` file the way the Dapr CLI does: Go's own encoding/gob of
// dapr/cli pkg/scheduler/exportimport.go's `ExportFile{Jobs, Counters map[string][]byte}`, built in maps, so the
// entries come in Go's random map order (encoding/gob ranges over the map). It is the input of
// test/scheduler/import-unordered.test.ts and bench/import-memory.ts. Standard library only (GO111MODULE=off).
//
// Usage:
//
//	unordered-export <out.bin> <jobs>
//
// It writes <jobs> jobs and a counter for every other one (<jobs>/2 rounded up), all in namespace "default" over 20
// apps: workflow reminders (4 in 5 of the jobs, the rest app jobs), with values shaped like the ones daprd stores.
// The values are protobuf, encoded here by hand from the field numbers of the upstream .proto files (no protobuf
// library in Go's standard library):
//   - diagridio/go-etcd-cron proto/stored/job.proto       stored.Job     {1 partition_id, 3 due_time, 5 job}
//   - diagridio/go-etcd-cron proto/stored/counter.proto   stored.Counter {1 job_partition_id, 2 count, 3 last_trigger}
//   - diagridio/go-etcd-cron proto/api/job.proto          api.Job        {2 due_time, 5 metadata, 6 payload, 7 failure_policy}
//   - diagridio/go-etcd-cron proto/api/failurepolicy.proto FailurePolicy {2 constant {1 interval}}
//   - dapr/dapr dapr/proto/scheduler/v1/scheduler.proto   JobMetadata    {1 app_id, 2 namespace, 3 target {1 job, 2 actor {1 id, 2 type}}}
//   - google/protobuf any.proto, timestamp.proto, duration.proto
package main

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"os"
	"strconv"
)

// ExportFile mirrors the Dapr CLI's type: gob sends the type name and the field names, so both must match.
type ExportFile struct {
	Jobs     map[string][]byte
	Counters map[string][]byte
}

func varintField(b []byte, field int, v uint64) []byte {
	b = binary.AppendUvarint(b, uint64(field<<3|0))
	return binary.AppendUvarint(b, v)
}

func bytesField(b []byte, field int, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(field<<3|2))
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func timestamp(seconds int64) []byte {
	return varintField(nil, 1, uint64(seconds))
}

func anyOf(typeURL string, value []byte) []byte {
	return bytesField(bytesField(nil, 1, []byte(typeURL)), 2, value)
}

// jobName is the etcd key of job i below dapr/jobs/ (Dapr's layout: dapr/jobs/actorreminder||ns||type||id||name, dapr/jobs/app||ns||app||name).
func jobName(i int) (name string, app string, actorType string, actorID string) {
	app = "app-" + strconv.Itoa(i%20)
	if i%5 == 0 {
		return "app||default||" + app + "||job-" + strconv.Itoa(i), app, "", ""
	}
	actorType = "dapr.internal.default." + app + ".workflow"
	actorID = fmt.Sprintf("order-%08d-%04x", i, (i*2654435761)&0xffff)
	return "actorreminder||default||" + actorType + "||" + actorID + "||new-event-" + strconv.FormatInt(int64(i), 36), app, actorType, actorID
}

func jobValue(i int, app, actorType, actorID string) []byte {
	begin := int64(1767225600 + i%86400) // 2026-01-01T00:00:00Z + i seconds
	var target []byte
	if actorType == "" {
		target = bytesField(nil, 1, nil) // target.job: TargetJob{}
	} else {
		target = bytesField(nil, 2, bytesField(bytesField(nil, 1, []byte(actorID)), 2, []byte(actorType)))
	}
	meta := bytesField(bytesField(bytesField(nil, 1, []byte(app)), 2, []byte("default")), 3, target)
	payload := bytes.Repeat([]byte{byte(i)}, 120+i%80) // a history event's worth of bytes
	spec := bytesField(nil, 2, []byte("2026-01-01T00:00:00Z"))
	spec = bytesField(spec, 5, anyOf("type.googleapis.com/dapr.proto.scheduler.v1.JobMetadata", meta))
	spec = bytesField(spec, 6, anyOf("type.googleapis.com/durabletask.protos.backend.v1.HistoryEvent", payload))
	if actorType != "" {
		spec = bytesField(spec, 7, bytesField(nil, 2, bytesField(nil, 1, varintField(nil, 1, 5)))) // retry every 5s
	}
	job := varintField(nil, 1, uint64(1234567890123456789+i))
	job = bytesField(job, 3, timestamp(begin))
	return bytesField(job, 5, spec)
}

func counterValue(i int) []byte {
	c := varintField(nil, 1, uint64(1234567890123456789+i))
	c = varintField(c, 2, uint64(1+i%7))
	return bytesField(c, 3, timestamp(int64(1767225600+i%86400)))
}

func main() {
	if len(os.Args) != 3 {
		fail(errors.New("usage: unordered-export <out.bin> <jobs>"))
	}
	n, err := strconv.Atoi(os.Args[2])
	if err != nil || n < 1 {
		fail(fmt.Errorf("bad job count %q", os.Args[2]))
	}
	out := ExportFile{Jobs: make(map[string][]byte, n), Counters: make(map[string][]byte, n/2+1)}
	for i := 0; i < n; i++ {
		name, app, actorType, actorID := jobName(i)
		out.Jobs["dapr/jobs/"+name] = jobValue(i, app, actorType, actorID)
		if i%2 == 0 {
			out.Counters["dapr/counters/"+name] = counterValue(i)
		}
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(&out); err != nil {
		fail(err)
	}
	if err := os.WriteFile(os.Args[1], buf.Bytes(), 0o600); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "unordered-export:", err)
	os.Exit(1)
}
