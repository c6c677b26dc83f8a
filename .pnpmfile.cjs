// Published manifests carry only what a consumer needs: no devDependencies
// (some name private workspace packages) and no scripts (they point at
// ../../scripts, which is not in the tarball). Runs on `pnpm pack` / `pnpm publish`.
module.exports = {
  hooks: {
    beforePacking(pkg) {
      delete pkg.devDependencies;
      delete pkg.scripts;
      return pkg;
    },
  },
};
