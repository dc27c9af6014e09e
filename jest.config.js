/** Unit tests: the DOM-free core and the model, in plain Node. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/src'],
  testRegex: '/__tests__/.*\\.spec\\.tsx?$',
  transform: {
    '^.+\\.tsx?$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }],
    // marked (the markdown parser JupyterLab renders with) ships as an ES module only: the
    // streaming blocks' tests compare their cuts with it (src/render/__tests__/blocks.spec.ts).
    'node_modules/marked/.+\\.js$': ['ts-jest', { tsconfig: { allowJs: true, module: 'commonjs' } }]
  },
  transformIgnorePatterns: ['/node_modules/(?!marked/)'],
  moduleFileExtensions: ['ts', 'tsx', 'js', 'json']
};
