// A control for gallery.test.js: a page that renders nothing must be reported blank.
Component({ data: {}, methods: { onLoad() {} } })
