func.func @forward(%x: tensor<?x64xbf16>) -> tensor<?x16xbf16> {
  %w = sl.weight "w" : tensor<16x32xbf16>
  %y = sl.linear %x, %w : (tensor<?x64xbf16>, tensor<16x32xbf16>) -> tensor<?x16xbf16>
  return %y : tensor<?x16xbf16>
}
