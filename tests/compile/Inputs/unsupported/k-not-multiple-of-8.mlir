func.func @forward(%x: tensor<?x100xbf16>) -> tensor<?x64xbf16> {
  %w = sl.weight "w" : tensor<64x100xbf16>
  %y = sl.linear %x, %w : (tensor<?x100xbf16>, tensor<64x100xbf16>) -> tensor<?x64xbf16>
  return %y : tensor<?x64xbf16>
}
