func.func @forward(%x: tensor<?x64xbf16>) -> tensor<?x64xbf16> {
  %y = sl.rms_norm %x, %x {epsilon = 1.0e-05 : f64} : tensor<?x64xbf16>, tensor<?x64xbf16>
  return %y : tensor<?x64xbf16>
