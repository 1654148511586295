package fusefs

import (
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lighthouse-ai/lighthouse/infra/metrics"
)

// timedFS times the FUSE operations a read-only mount serves, each with its
// pre-bound observer, and passes everything else through untouched.
type timedFS struct {
	fuse.RawFileSystem
	lookup, getattr, readlink, open, read, release, flush, opendir, readdir, readdirplus, releasedir, statfs prometheus.Observer
}

func newTimedFS(raw fuse.RawFileSystem, m *metrics.FUSE) fuse.RawFileSystem {
	if m == nil {
		return raw
	}
	o := m.Observer
	return &timedFS{RawFileSystem: raw,
		lookup: o("lookup"), getattr: o("getattr"), readlink: o("readlink"), open: o("open"), read: o("read"),
		release: o("release"), flush: o("flush"), opendir: o("opendir"), readdir: o("readdir"),
		readdirplus: o("readdirplus"), releasedir: o("releasedir"), statfs: o("statfs")}
}

func since(o prometheus.Observer, start time.Time) { o.Observe(time.Since(start).Seconds()) }

func (t *timedFS) Lookup(cancel <-chan struct{}, h *fuse.InHeader, name string, out *fuse.EntryOut) fuse.Status {
	defer since(t.lookup, time.Now())
	return t.RawFileSystem.Lookup(cancel, h, name, out)
}

func (t *timedFS) GetAttr(cancel <-chan struct{}, in *fuse.GetAttrIn, out *fuse.AttrOut) fuse.Status {
	defer since(t.getattr, time.Now())
	return t.RawFileSystem.GetAttr(cancel, in, out)
}

func (t *timedFS) Readlink(cancel <-chan struct{}, h *fuse.InHeader) ([]byte, fuse.Status) {
	defer since(t.readlink, time.Now())
	return t.RawFileSystem.Readlink(cancel, h)
}

func (t *timedFS) Open(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	defer since(t.open, time.Now())
	return t.RawFileSystem.Open(cancel, in, out)
}

func (t *timedFS) Read(cancel <-chan struct{}, in *fuse.ReadIn, buf []byte) (fuse.ReadResult, fuse.Status) {
	defer since(t.read, time.Now())
	return t.RawFileSystem.Read(cancel, in, buf)
}

func (t *timedFS) Release(cancel <-chan struct{}, in *fuse.ReleaseIn) {
	defer since(t.release, time.Now())
	t.RawFileSystem.Release(cancel, in)
}

func (t *timedFS) Flush(cancel <-chan struct{}, in *fuse.FlushIn) fuse.Status {
	defer since(t.flush, time.Now())
	return t.RawFileSystem.Flush(cancel, in)
}

func (t *timedFS) OpenDir(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	defer since(t.opendir, time.Now())
	return t.RawFileSystem.OpenDir(cancel, in, out)
}

func (t *timedFS) ReadDir(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	defer since(t.readdir, time.Now())
	return t.RawFileSystem.ReadDir(cancel, in, out)
}

func (t *timedFS) ReadDirPlus(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	defer since(t.readdirplus, time.Now())
	return t.RawFileSystem.ReadDirPlus(cancel, in, out)
}

func (t *timedFS) ReleaseDir(in *fuse.ReleaseIn) {
	defer since(t.releasedir, time.Now())
	t.RawFileSystem.ReleaseDir(in)
}

func (t *timedFS) StatFs(cancel <-chan struct{}, in *fuse.InHeader, out *fuse.StatfsOut) fuse.Status {
	defer since(t.statfs, time.Now())
	return t.RawFileSystem.StatFs(cancel, in, out)
}
