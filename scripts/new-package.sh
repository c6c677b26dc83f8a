#!/usr/bin/env bash
# Scaffolds a workspace package: scripts/new-package.sh <dir> <name> <description>
set -euo pipefail
dir=$1; name=$2; desc=$3
mkdir -p "$dir/src" "$dir/test"
cp packages/protocol/tsconfig.json packages/protocol/tsconfig.build.json packages/protocol/jest.config.mjs "$dir/"
node -e '
const [dir,name,desc]=process.argv.slice(1);
const p=JSON.parse(require("fs").readFileSync("packages/protocol/package.json","utf8"));
p.name=name;p.description=desc;p.dependencies={};
require("fs").writeFileSync(dir+"/package.json",JSON.stringify(p,null,2)+"\n");' "$dir" "$name" "$desc"
