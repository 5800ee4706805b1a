func.func @forward(%x: tensor<?x64xbf16>) -> (tensor<?x64xbf16>, tensor<?x64xbf16>) {
  %w = sl.weight "w" : tensor<64x64xbf16>
  %a = sl.linear %x, %w : (tensor<?x64xbf16>, tensor<64x64xbf16>) -> tensor<?x64xbf16>
  %b = sl.activation silu %a : tensor<?x64xbf16>
  %c = sl.add %a, %x : tensor<?x64xbf16>
  return %b, %c : tensor<?x64xbf16>, tensor<?x64xbf16>
}
