#!/bin/sh
# Snapshot the built packages of this checkout into /tmp/hp/$1 for bench/scripts/hotpath-ab.mjs.
set -e
repo=$(cd "$(dirname "$0")/../.." && pwd)
d=/tmp/hp/$1
rm -rf $d; mkdir -p $d/packages
for p in codec core protocol config unix tcp; do
  mkdir -p $d/packages/$p
  cp -a $repo/packages/$p/dist $repo/packages/$p/package.json $repo/packages/$p/node_modules $d/packages/$p/
done
ln -s $repo/node_modules $d/node_modules
