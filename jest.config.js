/** Unit tests: the DOM-free core and the model, in plain Node. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/src'],
  testRegex: '/__tests__/.*\\.spec\\.tsx?$',
  transform: {
    '^.+\\.tsx?$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }],
    // marked (the markdown parser JupyterLab renders with) ships as an ES module only: the
    // streaming blocks' tests compare their cuts with it (src/render/__tests__/blocks.spec.ts).
    // So does rendermime's math splitter, which src/render/finished.ts uses as rendermime does.
    'node_modules/(marked/.+|@jupyterlab/rendermime/lib/latex)\\.js$': [
      'ts-jest',
      { tsconfig: { allowJs: true, module: 'commonjs' } }
    ]
  },
  transformIgnorePatterns: ['/node_modules/(?!marked/|@jupyterlab/rendermime/lib/latex\\.js)'],
  moduleFileExtensions: ['ts', 'tsx', 'js', 'json']
};
