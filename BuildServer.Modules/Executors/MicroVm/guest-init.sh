#!/bin/sh
# /init of a BuildServer job VM (busybox sh as PID 1): the guest half of the microVM executor.
# It mounts the job disk on /__w, then serves the host over three virtio ports, opened once here:
#   bs.ctl control (fd 3): lines "STEP <index> <bytes>" + a tar of the step's files, "DIR <path>", "FINISH"
#   bs.out the steps' stdout (fd 4), bs.err their stderr (fd 5)
# After each step it writes "\036END <index>" on both output ports (the host waits for them, so no line of the
# step is lost) and answers "DONE <index> <exit code> <oom kills> <bytes>" + a tar of the runner's file commands.
# The console (ttyS0) carries only the kernel's and this script's own messages.
export PATH=/bin:/sbin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs -o mode=1777 tmpfs /tmp
stty -onlcr 2>/dev/null
# Each module costs a few ms under TCG: the network's and the overlay's only when the VM has them.
read -r cmdline < /proc/cmdline
modules="virtio_ring virtio virtio_mmio virtio_blk virtio_console" NET=
case " $cmdline " in *" mvm.net=1 "*) modules="$modules failover net_failover virtio_net" NET=1 ;; esac
case " $cmdline " in *" mvm.rootfs=1 "*) modules="$modules overlay" ;; esac
for m in $modules; do
  [ -f /lib/modules/$m.ko ] && insmod /lib/modules/$m.ko 2>/dev/null
done
fail() { echo "buildserver-init: $*"; sync; poweroff -f; }

# The ports appear asynchronously, named by the host (bs.ctl, bs.out, bs.err); their device numbers depend on the
# order of the VM's virtio devices. A port opens only once the host side is connected.
# (Builtins only: a fork costs ~5 ms under TCG.)
port() {
  for d in /sys/class/virtio-ports/*; do
    n=; [ -r "$d/name" ] && read -r n < "$d/name"
    [ "$n" = "$1" ] && dev="/dev/${d##*/}" && return 0
  done
  return 1
}
for name in bs.ctl bs.out bs.err; do
  i=0
  while ! { port $name && [ -c "$dev" ] && ( : < "$dev" ) 2>/dev/null; }; do
    i=$((i + 1)); [ $i -gt 1000 ] && fail "the virtio port $name did not appear"
    sleep 0.01
  done
done
port bs.ctl; CTL=$dev; port bs.out; OUT=$dev; port bs.err; ERR=$dev

mkdir -p /__w
i=0
while [ ! -b /dev/vda ]; do i=$((i + 1)); [ $i -gt 1000 ] && fail "the job disk did not appear"; sleep 0.01; done
mount -t ext4 /dev/vda /__w || fail "could not mount the job disk"

# An optional root file system (a second, read-only disk) with real build tools: steps then run chrooted into
# it, over a throwaway overlay, with /__w, /proc, /sys, /dev and a fresh /tmp inside.
ROOT=/
if [ -b /dev/vdb ]; then
  mkdir -p /rootfs /overlay /newroot
  mount -o ro /dev/vdb /rootfs || fail "could not mount the root file system disk"
  mount -t tmpfs tmpfs /overlay && mkdir -p /overlay/upper /overlay/work
  mount -t overlay overlay -o lowerdir=/rootfs,upperdir=/overlay/upper,workdir=/overlay/work /newroot \
    || fail "could not mount the overlay over the root file system"
  for d in __w proc sys dev tmp; do mkdir -p /newroot/$d; done
  mount --bind /__w /newroot/__w
  mount -t proc proc /newroot/proc
  mount -t sysfs sysfs /newroot/sys
  mount --bind /dev /newroot/dev
  mount -t tmpfs -o mode=1777 tmpfs /newroot/tmp
  ROOT=/newroot
fi

ip link set lo up 2>/dev/null
if [ -n "$NET" ]; then
  # QEMU's user network: the guest is 10.0.2.15, the gateway (the host) 10.0.2.2, DNS 10.0.2.3.
  ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && ip route add default via 10.0.2.2 \
    || echo "buildserver-init: could not configure eth0"
  echo 'nameserver 10.0.2.3' > $ROOT/etc/resolv.conf 2>/dev/null
fi

# The kernel's count of OOM kills, with builtins only (a fork costs ~5 ms under TCG); compared before and after each step.
oom_kills() {
  kills=0
  while read -r key value; do [ "$key" = oom_kill ] && kills=$value && break; done < /proc/vmstat
}
oom_kills; seen=$kills
# The step's command: chrooted into the root file system when there is one.
run() { if [ "$ROOT" = / ]; then env -i /bin/sh "$1"; else env -i /bin/chroot "$ROOT" /bin/sh "$1"; fi; }

exec 3<>"$CTL" 4>"$OUT" 5>"$ERR"
bash=0
if [ "$ROOT" != / ] && chroot $ROOT /bin/sh -c 'PATH=/usr/local/bin:/usr/bin:/bin; command -v bash' >/dev/null 2>&1; then bash=1; fi
echo "READY bash=$bash" >&3

while read -r verb rest <&3; do
  case "$verb" in
    STEP)
      set -- $rest; arg=$1; size=$2
      head -c "$size" <&3 | tar -x -C /__w || fail "could not unpack step $arg"
      run "/__w/_steps/$arg.run" </dev/null >&4 2>&5 3>&-
      rc=$?
      oom_kills; oomed=$((kills - seen)); seen=$kills
      printf '\036END %s\n' "$arg" >&4
      printf '\036END %s\n' "$arg" >&5
      tar -c -f /tmp/back.tar -C /__w _temp/_runner_file_commands 2>/dev/null || tar -c -f /tmp/back.tar -T /dev/null
      echo "DONE $arg $rc $oomed $(wc -c < /tmp/back.tar)" >&3
      cat /tmp/back.tar >&3
      ;;
    DIR)
      if [ -d "$ROOT$rest" ]; then echo "DIR 1" >&3; else echo "DIR 0" >&3; fi
      ;;
    FINISH)
      break
      ;;
  esac
done

# End what the job left running, then flush the job disk so the host can read the workspace back.
kill -9 -1 2>/dev/null
sleep 0.05
[ "$ROOT" != / ] && umount -l /newroot/__w 2>/dev/null
umount /__w 2>/dev/null || umount -l /__w
sync
echo "FINISHED" >&3
poweroff -f
