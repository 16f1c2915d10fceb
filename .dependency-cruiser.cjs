/**
 * The layer order of src/ (docs/architecture.md draws it): a folder may import from its own
 * layer and the layers before it, never from one after it, and nothing may import in a circle.
 * `npm run lint` runs this on src/ (and .ci/run runs `npm run lint` before the tests).
 */
const LAYERS = [
  ['errors', 'util'],
  ['cka'],
  ['io'],
  ['window'],
  ['reference'],
  ['plot'],
  ['calibration'],
  ['config'],
  ['model/graph'],
  ['model/runtime'],
  ['model'],
  ['decode'],
  ['source'],
  ['state'],
  ['metrics'],
  ['http'],
  ['page'],
  ['compare'],
  ['demo'],
  ['daemon'],
  ['cli'],
];

// A file's folder: model/graph and model/runtime are layers of their own below model/'s root files.
const folder = (name) => (name === 'model' ? 'src/model/[^/]+\\.ts$' : `src/${name}/`);

const upward = LAYERS.flatMap((layer, i) => {
  const above = LAYERS.slice(i + 1).flat();
  if (above.length === 0) return [];
  return layer.map((name) => ({
    name: `layer-order: ${name}`,
    comment: `src/${name} may import only from its own layer and those below it: ${LAYERS.slice(0, i + 1).flat().join(', ')}`,
    severity: 'error',
    from: { path: `^${folder(name)}` },
    to: { path: `^(${above.map(folder).join('|')})` },
  }));
});

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'an import circle makes two folders one; cut it by moving the shared type to the lower one',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'every-folder-has-a-layer',
      comment: 'a new folder under src/ needs a place in LAYERS (.dependency-cruiser.cjs) and in docs/architecture.md',
      severity: 'error',
      from: { path: '^src/', pathNot: `^(${LAYERS.flat().map(folder).join('|')})` },
      to: {},
    },
    ...upward,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '\\.d\\.ts$' },
  },
};
