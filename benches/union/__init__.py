"""Union-filesystem benchmark: stratafs beside kernel overlayfs and
fuse-overlayfs 1.x and 2.x over one seeded, distro-like fixture.

Run through benches/union.sh, which builds the binaries and passes their
paths (`python3 -m union` with benches/ on PYTHONPATH). Python 3 standard
library only.

Every measurement gets a fresh mount with an empty upper and work directory
(the lower layers are shared and never written). Targets are interleaved
(for run: for workload: for target) so that noise hits them alike. Each
measurement runs in a child process (`--worker`), which times itself with
time.perf_counter, so mounting and unmounting are never timed and a hung
filesystem is killed after a timeout instead of hanging the run.

The modules:
  host       logging, the page cache, commands, the load average
  fixture    the seeded layers, repository, tar and layer stacks
  oracle     the merged view the overlay rules give, and its comparison
  mounts     the targets: mounting, the FUSE server, the XFS reflink store
  workloads  the table of workloads, one function each
  runner     the run: probe, correctness pass, interleaved measurements
  report     the text report, the CSV files and the SVG chart
"""
