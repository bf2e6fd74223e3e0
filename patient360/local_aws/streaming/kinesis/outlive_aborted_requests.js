// Loaded before kinesalite (node --require): kinesalite rethrows a request's 'error' event, so a client killed
// mid-request (an ingestor SIGKILLed, a Ctrl-C) would take the whole stand-in down. Amazon Kinesis outlives its
// clients; so does this stand-in. Any other uncaught error still ends the process, as node would.
'use strict'

process.on('uncaughtException', function (err) {
  if (err && (err.code === 'ECONNRESET' || err.message === 'aborted')) {
    console.error('kinesalite: a client aborted its request (' + (err.code || err.message) + '); still serving')
    return
  }
  console.error(err && err.stack ? err.stack : err)
  process.exit(1)
})
