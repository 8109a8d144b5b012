// Two builds of one app share the folder: each bundler writes its own output.
export default {
  distDir: process.env.NEXT_DIST_DIR ?? '.next',
};
