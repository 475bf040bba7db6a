// TDesign ships ES modules (WeChat DevTools compiles them with "es6": true); jest gets them as CommonJS.
const MINIPROGRAM_NPM = ['babel-jest', { babelrc: false, configFile: false, plugins: ['@babel/plugin-transform-modules-commonjs'] }]

module.exports = {
  projects: [
    // pages, components, api/ and the OpenAPI contract: rendered by miniprogram-simulate in jsdom
    { displayName: 'unit', testEnvironment: 'jsdom', roots: ['<rootDir>/test'], testPathIgnorePatterns: ['/test/e2e/'],
      transform: { '/miniprogram_npm/.+\\.js$': MINIPROGRAM_NPM } },
    // the mini-program's api/ modules over real HTTP against the Python API and the WeChat emulator
    { displayName: 'e2e', testEnvironment: 'node', roots: ['<rootDir>/test/e2e'] },
    // the page gallery: every scene rendered to PNG in Chromium (gallery/render.js), then checked
    { displayName: 'gallery', testEnvironment: 'node', roots: ['<rootDir>/gallery'], testPathIgnorePatterns: ['/gallery/out/'] },
  ],
}
