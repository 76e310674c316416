#!/usr/bin/env bash
# System setup for simreg: a Vulkan driver Dawn accepts (Mesa's lavapipe), a second software adapter for the
# tests (SwiftShader, from Debian's chromium packages: chromium-common), and the Fashion-MNIST data set.
# Idempotent: exits quickly when everything is already present.
# Only acts on Debian/Ubuntu as root; elsewhere prints the command to run and changes nothing.
#   --slurm   also Slurm and MUNGE (slurm-wlm, munge): the one-node cluster of the Slurm test (scripts/slurm-local.sh)
set -euo pipefail

DATA_DIR=/usr/share/datasets/fashion-mnist
SWIFTSHADER_ICD=/usr/lib/chromium/vk_swiftshader_icd.json
need_driver=0
need_data=0
need_swiftshader=0
need_slurm=0
want_slurm=0
for a in "$@"; do
  case "$a" in
    --slurm) want_slurm=1 ;;
    *) echo "simreg setup: unknown argument $a (--slurm)" >&2; exit 2 ;;
  esac
done

have_vulkan_driver() {
  # A vendor ICD (e.g. NVIDIA's) is enough. Mesa's ICDs (lavapipe among them) must come from
  # Mesa >= 23: Dawn rejects Mesa 22 ("shaderUniform*ArrayDynamicIndexing required").
  local icd mesa_ok=0 v
  if command -v dpkg-query >/dev/null 2>&1; then
    v=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
    case "$v" in 2[3-9].*|[3-9][0-9].*) mesa_ok=1 ;; esac
  else
    mesa_ok=1
  fi
  for icd in /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json; do
    [ -e "$icd" ] || continue
    case "$(basename "$icd")" in
      lvp_icd*|intel*|radeon*|virtio*|gfxstream*|nouveau*|freedreno*|powervr*|asahi*|panfrost*|broadcom*)
        [ "$mesa_ok" = 1 ] && return 0 ;;
      *) return 0 ;;
    esac
  done
  return 1
}

have_vulkan_driver || need_driver=1
[ -f "$DATA_DIR/train-images-idx3-ubyte.gz" ] || [ -f "$DATA_DIR/train-images-idx3-ubyte" ] || need_data=1
# The GPU test layers run on SwiftShader too (4-lane subgroups); SIMREG_SWIFTSHADER_ICD may point elsewhere.
[ -f "${SIMREG_SWIFTSHADER_ICD:-$SWIFTSHADER_ICD}" ] || need_swiftshader=1
if command -v dpkg-query >/dev/null 2>&1 && ! dpkg-query -W -f='${Status}' libvulkan1 2>/dev/null | grep -q 'ok installed'; then
  need_driver=1
fi

if [ "$want_slurm" = 1 ] && ! { command -v slurmctld && command -v slurmd && command -v sbatch && command -v munged; } >/dev/null 2>&1; then
  need_slurm=1
fi

if [ "$need_driver" = 0 ] && [ "$need_data" = 0 ] && [ "$need_swiftshader" = 0 ] && [ "$need_slurm" = 0 ]; then
  exit 0
fi

codename=""
if [ -r /etc/os-release ]; then
  # shellcheck disable=SC1091
  . /etc/os-release
  codename=${VERSION_CODENAME:-}
  distro=${ID:-}
fi

pkgs=()
from_backports=0
if [ "$need_driver" = 1 ]; then
  pkgs+=(mesa-vulkan-drivers libvulkan1)
  [ "$codename" = bookworm ] && from_backports=1
fi
[ "$need_data" = 1 ] && pkgs+=(dataset-fashion-mnist)
[ "$need_swiftshader" = 1 ] && pkgs+=(chromium-common)
[ "$need_slurm" = 1 ] && pkgs+=(slurm-wlm munge)

explain() {
  echo "simreg setup: missing: ${pkgs[*]}" >&2
  if [ "$from_backports" = 1 ]; then
    echo "  run as root:" >&2
    echo "    echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/backports.list" >&2
    echo "    apt-get update && apt-get install -y -t bookworm-backports mesa-vulkan-drivers libvulkan1" >&2
    [ "$need_data" = 1 ] && echo "    apt-get install -y dataset-fashion-mnist" >&2
    [ "$need_swiftshader" = 1 ] && echo "    apt-get install -y --no-install-recommends chromium-common   # SwiftShader, the second test adapter" >&2
    [ "$need_slurm" = 1 ] && echo "    apt-get install -y --no-install-recommends slurm-wlm munge   # the Slurm test's one-node cluster" >&2
  elif [ "${distro:-}" = debian ] || [ "${distro:-}" = ubuntu ]; then
    echo "  run as root: apt-get update && apt-get install -y ${pkgs[*]}" >&2
  else
    echo "  install a Vulkan driver (Mesa >= 23 lavapipe or a GPU vendor driver) and the Vulkan loader;" >&2
    echo "  for the tests' second adapter, SwiftShader's vk_swiftshader_icd.json (set SIMREG_SWIFTSHADER_ICD to it);" >&2
    echo "  on macOS Dawn uses Metal and needs nothing. Fashion-MNIST: place the IDX files under $DATA_DIR" >&2
    echo "  or pass --data to the commands." >&2
  fi
}

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1 || { [ "${distro:-}" != debian ] && [ "${distro:-}" != ubuntu ]; }; then
  explain
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
if [ "$from_backports" = 1 ] && ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "simreg setup: adding bookworm-backports (Mesa 25 for Dawn)" >&2
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    cat > /etc/apt/sources.list.d/simreg-backports.sources <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  else
    echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/simreg-backports.list
  fi
fi
echo "simreg setup: installing ${pkgs[*]}" >&2
apt-get update -qq >&2
if [ "$need_driver" = 1 ]; then
  if [ "$from_backports" = 1 ]; then
    apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >&2
  else
    apt-get install -y -qq mesa-vulkan-drivers libvulkan1 >&2
  fi
fi
if [ "$need_data" = 1 ]; then
  apt-get install -y -qq dataset-fashion-mnist >&2
fi
if [ "$need_swiftshader" = 1 ]; then
  # SwiftShader ships in chromium-common, the part of Debian's chromium that holds its Vulkan driver: the browser
  # itself is not needed (nor started), and --no-install-recommends keeps the install small.
  apt-get install -y -qq --no-install-recommends chromium-common >&2
fi
if [ "$need_slurm" = 1 ]; then
  # The daemons are started by scripts/slurm-local.sh, not by the packages' services (no systemd here).
  apt-get install -y -qq --no-install-recommends slurm-wlm munge >&2
fi
echo "simreg setup: done" >&2
