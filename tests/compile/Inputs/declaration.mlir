// A function declared without a body.
func.func private @forward(%x: tensor<?x64xf32>) -> tensor<?x64xf32>
