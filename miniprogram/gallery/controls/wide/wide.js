// A control for gallery.test.js: a page wider than the screen must be reported wide.
Component({ data: {}, methods: { onLoad() {} } })
