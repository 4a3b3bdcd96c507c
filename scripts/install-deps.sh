#!/bin/sh
# install-deps.sh - installs the Debian 12 packages seqsh needs to build and
# test, if any is missing. Uses sudo when not run as root.
set -e
pkgs="build-essential autoconf automake pkg-config libopenblas-dev libreadline-dev zlib1g-dev check tmux valgrind libjansson-dev libhdf5-dev libprotobuf-c-dev protobuf-c-compiler libonnx-dev libgraphviz-dev libcairo2-dev fonts-dejavu-core openmpi-bin libopenmpi-dev"
# make check-interop: node and npm (any recent Node.js; Debian's if none),
# h5py and numpy for Python, Debian's PyTorch
command -v node >/dev/null 2>&1 || pkgs="$pkgs nodejs"
command -v npm >/dev/null 2>&1 || pkgs="$pkgs npm"
pkgs="$pkgs python3-numpy python3-h5py python3-torch python3-onnx"
missing=""
for p in $pkgs; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
echo "installing:$missing"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q $missing
