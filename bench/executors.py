#!/usr/bin/env python3
"""Executors benchmark (issue 7), run by bench/executors.sh: the real server (built-in agent, Docker and microVM
executors), each job against the bare operation, interleaved. Prints one JSON document on stdout.

Definitions (all on the same machine clock):
  first command  job: from just before POST /runs to the time stamp the agent gave the step's first output line
                 bare: from launching the process to reading its first output line
  whole job      job: from just before POST /runs to the run's finishedAt (server) for a one-step `true` job
                 bare: from launching the process to its exit
"""
import base64, datetime, glob, json, os, shutil, socket, statistics, subprocess, sys, tempfile, time, urllib.request

WORK, EXECUTORS, RUNS, WARMUP = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3]), int(sys.argv[4])
WARM_VMS = int(os.environ.get("WARM_VMS", "1"))
IMAGE = "local/busybox:1"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_time(text):
    # .NET writes up to 7 decimals; Python takes 6.
    text = text.replace("Z", "+00:00")
    if "." in text:
        head, rest = text.split(".", 1)
        digits = "".join(c for c in rest if c.isdigit())
        zone = rest[len(digits):]
        text = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    return datetime.datetime.fromisoformat(text).timestamp()


class Server:
    def __init__(self):
        self.port = free_port()
        self.data = os.path.join(WORK, "data")
        os.makedirs(self.data)
        args = ["dotnet", os.path.join(WORK, "server", "buildserver.dll"), "serve", "--data-dir", self.data,
                "--urls", f"http://127.0.0.1:{self.port}", f"--Https:Url=https://127.0.0.1:{free_port()}",
                f"--Executors:Docker:Endpoint={os.environ['DOCKER_HOST']}",
                "--Executors:MicroVm:Acceleration=tcg", "--Executors:MicroVm:MemoryMb=256", "--Executors:MicroVm:Disk=256m",
                f"--Executors:MicroVm:WarmVms={WARM_VMS}"]
        self.log = open(os.path.join(WORK, "server.log"), "w")
        self.process = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, cwd=self.data)
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2)
                break
            except Exception:
                if time.time() > deadline or self.process.poll() is not None:
                    raise SystemExit("the server did not start; see " + self.log.name)
                time.sleep(0.1)
        self.token = open(os.path.join(self.data, "initial-admin-token")).read().strip()

    def call(self, method, path, body=None):
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/api/v1/{path}", method=method,
                                         data=None if body is None else json.dumps(body).encode(),
                                         headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return json.loads(raw) if "json" in response.headers.get("Content-Type", "") else raw.decode()

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


def job(server, pipeline):
    """Triggers a run; returns (first command s, whole s, status)."""
    start = time.time()
    run = server.call("POST", "projects/bench/runs", {"pipeline": pipeline})
    while True:
        view = server.call("GET", f"runs/{run['id']}")
        if view["status"] in ("succeeded", "failed", "cancelled", "timed_out"):
            break
        time.sleep(0.02)
    whole = parse_time(view["finishedAt"]) - start
    job_id = view["jobs"][0]["id"]
    text = server.call("GET", f"jobs/{job_id}/log")
    first = None
    for line in text.splitlines():
        stamp, _, rest = line.partition(" ")
        if rest == "first":
            first = parse_time(stamp) - start
            break
    return first, whole, view["status"]


def bare(args, before=None):
    """Launches a process (after `before`, timed too); returns (first output line s, exit s)."""
    start = time.time()
    if before:
        before()
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = None
    for raw in process.stdout:
        if first is None and raw.strip() == b"first":
            first = time.time() - start
    process.wait()
    return first, time.time() - start


def recipe_vm(kernel):
    """MICROVM.md's per-job VM, built as the recipe says: its initramfs with init.sh, an ext4 job disk."""
    root = os.path.join(WORK, "recipe")
    tree = os.path.join(root, "tree")
    for d in ("bin", "proc", "sys", "dev", "tmp", "root", "etc", "mnt", "workspace", "lib/modules"):
        os.makedirs(os.path.join(tree, d), exist_ok=True)
    shutil.copy("/bin/busybox", os.path.join(tree, "bin"))
    for applet in subprocess.run(["/bin/busybox", "--list"], capture_output=True, text=True).stdout.split():
        if applet != "busybox":
            os.symlink("busybox", os.path.join(tree, "bin", applet))
    version = os.path.basename(glob.glob("/boot/vmlinuz-*-cloud-amd64")[-1]).replace("vmlinuz-", "")
    for module in ("virtio_ring", "virtio", "virtio_mmio", "virtio_blk"):
        path = subprocess.run(["modinfo", "-k", version, "-n", module], capture_output=True, text=True).stdout.strip()
        shutil.copy(path, os.path.join(tree, "lib/modules"))
    open(os.path.join(tree, "etc/passwd"), "w").write("root:x:0:0:root:/root:/bin/sh\n")
    init = os.path.join(tree, "init")
    open(init, "w").write(RECIPE_INIT)
    os.chmod(init, 0o755)
    cpio = os.path.join(root, "initramfs.cpio")
    subprocess.run(f"cd '{tree}' && find . | cpio -o -H newc --quiet > '{cpio}'", shell=True, check=True)
    stage = os.path.join(root, "stage")
    os.makedirs(os.path.join(stage, "workspace"))
    mhz = next(float(l.split(":")[1]) for l in open("/proc/cpuinfo") if l.startswith("cpu MHz"))
    disk = os.path.join(root, "disk.img")

    def make_disk():
        with open(disk, "wb") as f:
            f.truncate(256 * 1024 * 1024)
        subprocess.run(["mke2fs", "-q", "-t", "ext4", "-F", "-E", "root_owner=0:0", "-d", stage, disk], check=True)

    def launch(command):
        return bare(["qemu-system-x86_64", "-M", "microvm,x-option-roms=off,isa-serial=on,rtc=on", "-accel", "tcg,thread=multi",
                     "-cpu", "max", "-m", "256", "-smp", "1", "-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio",
                     "-no-reboot", "-nic", "none", "-kernel", kernel, "-initrd", cpio,
                     "-drive", f"id=job,file={disk},format=raw,if=none,cache=unsafe", "-device", "virtio-blk-device,drive=job",
                     "-append", f"console=ttyS0 quiet loglevel=3 panic=-1 tsc_early_khz={int(mhz * 1000)} pci=off cryptomgr.notests "
                                f"mvm.cmd={base64.b64encode(command.encode()).decode()}"], before=make_disk)
    return launch


RECIPE_INIT = """#!/bin/sh
export PATH=/bin HOME=/root TMPDIR=/tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs -o mode=1777 tmpfs /tmp
stty -onlcr 2>/dev/null
for m in virtio_ring virtio virtio_mmio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk; do
  insmod /lib/modules/$m.ko 2>/dev/null
done
mkdir -p /workspace /mnt/job
DISK=
if [ -b /dev/vda ] && mount -t ext4 /dev/vda /mnt/job; then
  DISK=1; mkdir -p /mnt/job/workspace && mount -o bind /mnt/job/workspace /workspace
fi
CMD=
for w in $(cat /proc/cmdline); do
  case "$w" in mvm.cmd=*) CMD=$(echo "${w#mvm.cmd=}" | base64 -d) ;; esac
done
[ -z "$CMD" ] && [ -f /mnt/job/cmd.sh ] && CMD='sh /mnt/job/cmd.sh'
echo "__START__"
cd /workspace && sh -c "$CMD" </dev/null
rc=$?
cd /
kill -9 -1 2>/dev/null; sleep 0.1
if [ -n "$DISK" ]; then
  echo "$rc" > /mnt/job/exit_code
  umount /workspace; umount /mnt/job
fi
sync
echo "__EXIT__ $rc"
poweroff -f
"""


def summary(values):
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    return {"n": len(values), "p50_ms": round(statistics.median(values) * 1000, 1), "min_ms": round(values[0] * 1000, 1),
            "max_ms": round(values[-1] * 1000, 1)}


def ratio(a, b):
    return round(a["p50_ms"] / b["p50_ms"], 3) if a and b else None


def main():
    server = Server()
    server.call("POST", "projects", {"name": "bench"})
    result = {"bench": "executors", "time": datetime.datetime.now(datetime.timezone.utc).isoformat(), "runs": RUNS, "warmup": WARMUP, "warm_vms": WARM_VMS,
              "cpus": os.cpu_count(), "loadavg_before": os.getloadavg()[0], "executors": {}}
    for executor in EXECUTORS:
        if executor == "docker":
            pipelines = {name: f"jobs:\n  j:\n    container: {IMAGE}\n    steps:\n      - run: {cmd}\n" for name, cmd in (("first", "echo first"), ("true", "true"))}
            launch = lambda command: bare(["docker", "run", "--rm", "--network", "none", IMAGE, "sh", "-c", command])
        else:
            pipelines = {name: f"jobs:\n  j:\n    runs-on: [self-hosted, microvm]\n    steps:\n      - run: {cmd}\n" for name, cmd in (("first", "echo first"), ("true", "true"))}
            launch = None
        samples = {"job_first": [], "job_true": [], "bare_first": [], "bare_true": []}
        for i in range(WARMUP + RUNS):
            first, _, status1 = job(server, pipelines["first"])
            _, whole, status2 = job(server, pipelines["true"])
            if launch is None:  # the kernel the server built for its guests, so both boot the same one
                kernel = glob.glob(os.path.join(server.data, "microvm", "*", "kernel"))[0]
                launch = recipe_vm(kernel)
            bare_first, _ = launch("echo first")
            _, bare_whole = launch("true")
            if status1 != "succeeded" or status2 != "succeeded":
                raise SystemExit(f"{executor}: a job did not succeed ({status1}, {status2}); see {WORK}/server.log")
            log(f"{executor} {i}: job first {first * 1000:.0f} ms, whole {whole * 1000:.0f} ms; bare first {bare_first * 1000:.0f} ms, whole {bare_whole * 1000:.0f} ms")
            if i >= WARMUP:
                for key, value in (("job_first", first), ("job_true", whole), ("bare_first", bare_first), ("bare_true", bare_whole)):
                    samples[key].append(value)
        figures = {key: summary(values) for key, values in samples.items()}
        figures["ratio_first_command"] = ratio(figures["job_first"], figures["bare_first"])
        figures["ratio_whole_job"] = ratio(figures["job_true"], figures["bare_true"])
        result["executors"][executor] = figures
    result["loadavg_after"] = os.getloadavg()[0]
    server.stop()
    print(json.dumps(result, indent=2))


main()
